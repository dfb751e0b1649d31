// Preselects the browser's time zone on a fresh sign-up form; the page works the same without it.
(function () {
  var select = document.getElementById("tz");
  if (!select || select.getAttribute("data-chosen") === "1") return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
