// A "Copy" button under every copy-ready script (a quote block in a lesson or a task), so she can
// paste it into WeChat in one tap. Works where navigator.clipboard is missing, as in WeChat's
// browser on a plain http page, and on iOS Safari (a selected, editable, 16px textarea). Without
// this script the page is unchanged: she can still press and hold the text to copy it.
(function () {
  function scriptText(quote) {
    var lines = [];
    Array.prototype.forEach.call(quote.children, function (block) {
      if (block.tagName === "OL" || block.tagName === "UL") {
        var start = parseInt(block.getAttribute("start") || "1", 10);
        Array.prototype.forEach.call(block.children, function (item, i) {
          lines.push((block.tagName === "OL" ? (start + i) + ". " : "") + item.innerText.trim());
        });
      } else {
        lines.push(block.innerText.trim());
      }
    });
    return lines.filter(function (line) { return line; }).join("\n");
  }

  function copyWithSelection(text) {
    // As clipboard.js does: a read-only textarea (no keyboard pops up), 16px (iOS does not zoom),
    // selected in full, then the browser's copy command.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.cssText = "position:absolute;left:-9999px;font-size:16px;";
    area.style.top = (window.pageYOffset || document.documentElement.scrollTop) + "px";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);  // iOS selects only this way
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(area);
    window.getSelection().removeAllRanges();
    return copied;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!copyWithSelection(text)) throw new Error("copy refused");
      });
    }
    return copyWithSelection(text) ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function selectForLongPress(quote) {
    var range = document.createRange();
    range.selectNodeContents(quote);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy-label] blockquote"), function (quote) {
    var box = quote.closest("[data-copy-label]");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-outline-success copy-button";
    button.textContent = box.dataset.copyLabel;
    button.addEventListener("click", function () {
      copy(scriptText(quote)).then(function () {
        button.textContent = box.dataset.copiedLabel;
        button.dataset.copied = "1";
      }, function () {
        selectForLongPress(quote);
        button.textContent = box.dataset.failedLabel;
        button.dataset.copied = "0";
      });
      setTimeout(function () { button.textContent = box.dataset.copyLabel; }, 2500);
    });
    quote.insertAdjacentElement("afterend", button);
  });
})();
