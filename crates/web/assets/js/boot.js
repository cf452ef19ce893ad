// Runs before the app: applies the saved theme (no flash of the wrong one) and records
// every script error and policy violation, so that tests can fail on any of them
// (window.__locritErrors).
(function () {
  var theme = localStorage.getItem("locrit.theme") ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  document.documentElement.dataset.theme = theme;
  var errors = (window.__locritErrors = []);
  window.addEventListener("error", function (event) {
    errors.push(String(event.message || (event.target && event.target.src) || "error"));
  }, true);
  document.addEventListener("securitypolicyviolation", function (event) {
    errors.push("blocked by the content security policy: " + event.violatedDirective + " " + event.blockedURI);
  });
  window.addEventListener("unhandledrejection", function (event) {
    errors.push("unhandled rejection: " + String(event.reason && (event.reason.stack || event.reason)));
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return consoleError.apply(console, arguments);
  };
})();
