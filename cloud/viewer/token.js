// The session token: typed into the page, or passed in the URL fragment (#token=...), which never leaves
// the browser. Kept in sessionStorage so a reload does not ask again.

export function tokenInput(input) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  input.value = fromHash ?? sessionStorage.getItem("eyeline-token") ?? "";
  input.addEventListener("change", () => sessionStorage.setItem("eyeline-token", input.value.trim()));
  return () => input.value.trim();
}
