/* Share cards inside WeChat: sign this page with our server (GET /api/v1/wechat/jssdk), load the
   JS-SDK from our own origin, and set the title, text, link and image WeChat shows when she shares.
   The page carries <div id="wechat-share" data-...> only when it is opened in WeChat's browser. */
(function () {
  "use strict";
  var card = document.getElementById("wechat-share");
  if (!card || !window.fetch) { return; }
  var data = card.dataset;
  var page = window.location.href.split("#")[0];
  window.fetch(data.api + "?url=" + encodeURIComponent(page), { credentials: "same-origin" })
    .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
    .then(function (signed) {
      var previous = window.module;
      window.module = { exports: {} };   // the SDK file is a CommonJS module
      var script = document.createElement("script");
      script.src = data.sdk;
      script.onload = function () {
        var wx = window.module.exports || window.wx;
        window.module = previous;
        wx.config({ debug: false, appId: signed.appId, timestamp: signed.timestamp, nonceStr: signed.nonceStr,
                    signature: signed.signature, jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"] });
        wx.ready(function () {
          wx.updateAppMessageShareData({ title: data.title, desc: data.desc, link: data.link, imgUrl: data.img });
          wx.updateTimelineShareData({ title: data.title, link: data.link, imgUrl: data.img });
        });
        card.setAttribute("data-ready", "1");
      };
      document.head.appendChild(script);
    })
    .catch(function () { /* no share card: WeChat's default one stays */ });
})();
