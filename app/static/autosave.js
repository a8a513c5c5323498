// Saves a quiz attempt as she answers, so a reload or a dropped connection loses nothing.
// A failed save is tried again a few seconds later. The page works without this script:
// its "Save" button does the same.
(function () {
  var form = document.getElementById("attempt-form");
  if (!form || !window.fetch || !window.FormData) return;
  var status = document.getElementById("save-status");
  var timer = null, tries = 0;
  function show(text, saved) {
    if (!status) return;
    status.textContent = text;
    status.dataset.saved = saved ? "1" : "0";
  }
  function retry() {
    if (tries < 5) { tries += 1; later(3000); }
  }
  function save() {
    var data = new FormData(form);
    data.delete("action");
    fetch(form.dataset.autosave, {method: "POST", body: data, credentials: "same-origin",
                                  headers: {"X-CSRFToken": data.get("csrf_token")}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, status: r.status, body: body}; }); })
      .then(function (res) {
        if (res.ok) { tries = 0; show("✓ " + new Date(res.body.saved_at).toLocaleTimeString(), true); }
        else { show(res.body.error || "…", false); if (res.status >= 500) retry(); }
      })
      .catch(function () { show("…", false); retry(); });
  }
  function later(delay) { clearTimeout(timer); timer = setTimeout(save, delay || 600); }
  form.addEventListener("change", function () { later(); });
  form.addEventListener("input", function () { later(); });
})();
