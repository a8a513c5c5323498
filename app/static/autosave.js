// Saves a quiz attempt as she answers, so a reload or a dropped connection loses nothing.
// The page works without this script: its "Save" button does the same.
(function () {
  var form = document.getElementById("attempt-form");
  if (!form || !window.fetch || !window.FormData) return;
  var status = document.getElementById("save-status");
  var timer = null;
  function save() {
    var data = new FormData(form);
    data.delete("action");
    fetch(form.dataset.autosave, {method: "POST", body: data, credentials: "same-origin",
                                  headers: {"X-CSRFToken": data.get("csrf_token")}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (!status) return;
        status.textContent = res.ok ? "✓ " + new Date(res.body.saved_at).toLocaleTimeString() : res.body.error;
        status.dataset.saved = res.ok ? "1" : "0";
      })
      .catch(function () { if (status) { status.textContent = "…"; status.dataset.saved = "0"; } });
  }
  function later() { clearTimeout(timer); timer = setTimeout(save, 600); }
  form.addEventListener("change", later);
  form.addEventListener("input", later);
})();
