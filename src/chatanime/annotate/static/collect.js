// The respondent's page of a collection study. The forms work without this file; it adds
// the live length counter (which stops typing at the study's limit, counted as the server
// counts: non-space characters in Chinese, words in English), draft saving while typing,
// and the round-2 status poll (with the study's automatic retry after a failure).
(function () {
  "use strict";
  var root = document.getElementById("collect");
  if (!root) { return; }
  var data = root.dataset;
  var base = data.path;
  var limit = parseInt(data.limit, 10);
  var words = data.unit === "words";
  var WORD = "[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*";

  function count(text) {
    if (words) { var m = text.match(new RegExp(WORD, "g")); return m ? m.length : 0; }
    return Array.from(text.replace(/\s+/g, "")).length;
  }

  function clamp(text) {
    if (count(text) <= limit) { return text; }
    if (words) {
      var re = new RegExp(WORD, "g"), m, n = 0;
      while ((m = re.exec(text)) !== null) {
        n += 1;
        if (n > limit) { return text.slice(0, m.index).replace(/\s+$/, ""); }
      }
      return text;
    }
    var chars = Array.from(text), out = "", k = 0;
    for (var i = 0; i < chars.length; i++) {
      if (!/\s/.test(chars[i])) { k += 1; if (k > limit) { break; } }
      out += chars[i];
    }
    return out;
  }

  function post(url, fields, beacon) {
    var body = new FormData();
    body.append("csrf", data.csrf);
    body.append("dialogue", data.dialogue);
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    if (beacon && navigator.sendBeacon) { return navigator.sendBeacon(url, body) ? null : false; }
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", keepalive: true });
  }

  var box = document.getElementById("answer");
  if (box) {
    var counter = document.getElementById("counter");
    var shown = document.getElementById("count");
    var note = document.getElementById("draft-state");
    var send = document.getElementById("send");
    var form = document.getElementById("answer-form");
    var saved = box.value, submitted = false;

    var update = function () {
      var n = count(box.value);
      if (n > limit) { box.value = clamp(box.value); n = count(box.value); }
      shown.textContent = String(n);
      counter.classList.toggle("full", n >= limit);
      // Stop typing at the limit; whitespace does not count in Chinese, so the cap moves.
      if (!words) { box.maxLength = box.value.length + Math.max(0, limit - n); }
      send.disabled = n === 0;
    };

    var saveDraft = function (beacon) {
      if (submitted || box.value === saved) { return; }
      var value = box.value;
      var sent = post(base + "/draft", { round: box.dataset.round, text: value }, beacon);
      if (sent === null) { saved = value; return; }
      if (sent) {
        sent.then(function (r) {
          if (r.ok) { saved = value; note.textContent = data.msgSaved; }
        }).catch(function () { /* offline: the next tick tries again */ });
      }
    };

    box.addEventListener("input", update);
    box.addEventListener("blur", function () { saveDraft(false); });
    form.addEventListener("submit", function () { submitted = true; });
    window.addEventListener("pagehide", function () { saveDraft(true); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { saveDraft(true); }
    });
    window.setInterval(function () { saveDraft(false); }, 2000);
    update();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  var status = document.getElementById("sim-status");
  if (status) {
    var message = document.getElementById("sim-message");
    var retry = document.getElementById("retry-form");
    var auto = document.getElementById("auto-retry");
    var autoTimer = null;

    var countdown = function (seconds) {
      var left = Math.ceil(seconds);
      var tick = function () {
        auto.textContent = data.msgAuto.replace("{s}", String(left));
        if (left <= 0) { retry.requestSubmit(); return; }
        left -= 1;
        autoTimer = window.setTimeout(tick, 1000);
      };
      tick();
    };

    var poll = function () {
      fetch(base + "/status", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.state === "ready") { window.location.reload(); return; }
          if (s.state === "failed") {
            message.textContent = data.msgFailed;
            status.classList.add("failed");
            retry.classList.remove("hidden");
            if (s.auto_retry_s !== null && autoTimer === null) { countdown(s.auto_retry_s); }
            window.setTimeout(poll, 5000);
            return;
          }
          message.textContent = s.slow ? data.msgSlow : data.msgWaiting;
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    poll();
  }
})();
