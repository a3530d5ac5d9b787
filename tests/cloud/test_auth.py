from __future__ import annotations

import pytest

from eyeline.cloud.ingress.auth import AuthError, TokenSigner, bearer_token, load_secret

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
