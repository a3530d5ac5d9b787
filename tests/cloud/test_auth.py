from __future__ import annotations

import pytest

from eyeline.cloud.ingress.auth import AuthError, Role, TokenSigner, bearer_token, load_secret, session_id_problem

SECRET = b"0123456789abcdef0123456789abcdef"


class FakeWallClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_minted_token_verifies_with_its_subject() -> None:
    signer = TokenSigner(SECRET, wall_clock=FakeWallClock(1_000))
    claims = signer.verify(signer.mint("glasses-7", ttl_s=60))
    assert (claims.subject, claims.issued_at, claims.expires_at) == ("glasses-7", 1_000, 1_060)


def test_an_expired_token_is_refused_with_its_expiry() -> None:
    clock = FakeWallClock(1_000)
    signer = TokenSigner(SECRET, wall_clock=clock)
    token = signer.mint("edge", ttl_s=60)
    clock.now = 1_060
    with pytest.raises(AuthError, match="expired at 1060"):
        signer.verify(token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = TokenSigner(b"another-secret-of-enough-bytes!!").mint("edge")
    with pytest.raises(AuthError, match="signature does not match"):
        TokenSigner(SECRET).verify(token)


def test_an_altered_token_is_refused() -> None:
    signer = TokenSigner(SECRET)
    version, _, signature = signer.mint("edge").split(".")
    forged = TokenSigner(b"x" * 32).mint("admin").split(".")[1]
    with pytest.raises(AuthError, match="signature"):
        signer.verify(f"{version}.{forged}.{signature}")


@pytest.mark.parametrize("token", ["", "garbage", "v2.a.b", "v1.only-two"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthError, match="malformed"):
        TokenSigner(SECRET).verify(token)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="at least 16 bytes"):
        TokenSigner(b"short")


def test_secret_comes_from_file_or_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    assert load_secret(secret_file) == SECRET
    monkeypatch.setenv("EYELINE_TOKEN_SECRET", "from-the-environment")
    assert load_secret(None) == b"from-the-environment"
    monkeypatch.delenv("EYELINE_TOKEN_SECRET")
    with pytest.raises(AuthError, match="no token secret"):
        load_secret(None)
    with pytest.raises(AuthError, match="cannot read"):
        load_secret(tmp_path / "missing")


def test_bearer_token_is_read_from_metadata() -> None:
    assert bearer_token((("x-other", "1"), ("Authorization", "Bearer abc.def"))) == "abc.def"
    assert bearer_token((("authorization", b"bearer tok"),)) == "tok"
    assert bearer_token((("authorization", "Basic abc"),)) is None
    assert bearer_token(None) is None


def _signed(signer: TokenSigner, claims: dict[str, object]) -> str:
    """A token with exactly ``claims``, signed as the cloud signs: what an older or hand-made token looks like."""
    import base64
    import json

    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    body = f"v1.{encoded}"
    return f"{body}.{signer._sign(body)}"


def test_a_token_carries_its_role_and_the_role_decides_what_it_may_do() -> None:
    signer = TokenSigner(SECRET)
    edge = signer.verify(signer.mint("ana"))
    viewer = signer.verify(signer.mint("ana", role=Role.VIEWER))
    admin = signer.verify(signer.mint("ops", role=Role.ADMIN))
    assert (edge.role, viewer.role, admin.role) == (Role.EDGE, Role.VIEWER, Role.ADMIN)
    assert [c.may_publish for c in (edge, viewer, admin)] == [True, False, False]
    assert edge.may_view("ana") and viewer.may_view("ana") and admin.may_view("ana")
    assert not edge.may_view("bo") and not viewer.may_view("bo") and admin.may_view("bo")
    assert edge.may_ask("ana") and viewer.may_ask("ana")
    assert not admin.may_ask("ana") and not edge.may_ask("bo") and admin.may_ask("ops")


def test_a_token_minted_before_roles_is_an_edge_token_and_an_unknown_role_is_refused() -> None:
    signer = TokenSigner(SECRET, wall_clock=FakeWallClock(1_000))
    legacy = signer.verify(_signed(signer, {"sub": "ana", "iat": 1_000, "exp": 2_000}))
    assert (legacy.subject, legacy.role) == ("ana", Role.EDGE)
    with pytest.raises(AuthError, match="malformed session token claims"):
        signer.verify(_signed(signer, {"sub": "ana", "role": "root", "iat": 1_000, "exp": 2_000}))


@pytest.mark.parametrize("token", ["v1.é.x", "v1.abc.\u00e9\u00e9", "\u2603", "v1.e30.AAAA\udcff"])
def test_a_non_ascii_token_is_refused_as_malformed_not_a_crash(token: str) -> None:
    with pytest.raises(AuthError, match="must be ASCII"):
        TokenSigner(SECRET).verify(token)


def test_session_ids_are_signed_for_any_subject_and_a_non_ascii_id_is_simply_not_ours() -> None:
    signer = TokenSigner(SECRET)
    session_id = signer.session_id("Zoë", "abc123")
    assert signer.issued_session_id(session_id, "Zoë") and not signer.issued_session_id(session_id, "Zoe")
    assert not signer.issued_session_id("abc123.\u00e9\u00e9\u00e9", "Zoë")
    assert session_id_problem(session_id) is None
    assert "ASCII" in (session_id_problem("abc.\u00e9") or "")
    assert "at most" in (session_id_problem("a" * 129) or "")
