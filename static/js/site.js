/* MovieRec progressive enhancement. Every form here works without this file; with it,
   ratings, wishlist and "not interested" are sent with fetch and the page is not reloaded.
   No inline scripts anywhere, so a strict Content-Security-Policy can forbid them. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var SAVE_DELAY_MS = 350; // arrow keys move through the stars: save where they stop

  // Not form.action: our forms have a button named "action", which shadows that property.
  function actionOf(form) { return form.getAttribute("action"); }

  // Fallback when fetch fails: a normal submit, keeping which button was pressed.
  function nativeSubmit(form, submitter) {
    if (submitter && submitter.name) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = submitter.name;
      hidden.value = submitter.value;
      form.appendChild(hidden);
    }
    HTMLFormElement.prototype.submit.call(form);
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function post(url, form, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (key) { body.append(key, fields[key]); });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrfToken(form), "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // Logged out meanwhile, or a server error page: let the browser do a normal submit.
        throw new Error("not json");
      }
      return response.json();
    });
  }

  function statusOf(container) {
    return container.querySelector("[data-rating-status]") ||
      (container.parentElement && container.parentElement.querySelector("[data-rating-status]"));
  }

  function show(status, data) {
    if (!status) return;
    status.textContent = data.message;
    status.classList.toggle("is-error", !data.ok);
  }

  /* Rating control: a star click saves; "Remove" deletes. */
  var timers = new WeakMap();

  function saveRating(container, url, form, value) {
    var status = statusOf(container);
    post(url, form, { value: value }).then(function (data) {
      show(status, data);
      var label = container.querySelector("[data-rating-value]") ||
        (form.querySelector && form.querySelector("[data-rating-value]"));
      if (label && data.ok) label.textContent = data.value + " / 5";
      var remove = form.querySelector && form.querySelector("[data-rating-remove]");
      if (remove && data.ok) remove.hidden = false;
    }).catch(function () {
      if (form.matches && form.matches("[data-rating-form]")) nativeSubmit(form);
      else show(status, { ok: false, message: "Could not save. Use the button below to save." });
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".star-input")) return;
    var form = input.form;
    var ratingForm = input.closest("[data-rating-form]");
    var fieldset = input.closest("[data-rate-url]");
    var container = ratingForm || fieldset;
    if (!container) return;
    var url = ratingForm ? actionOf(ratingForm) : fieldset.getAttribute("data-rate-url");
    clearTimeout(timers.get(container));
    timers.set(container, setTimeout(function () { saveRating(container, url, form, input.value); }, SAVE_DELAY_MS));
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-rating-form]")) {
      var submitter = event.submitter;
      if (!submitter || submitter.value !== "remove") return; // "Save" without JS only
      event.preventDefault();
      post(actionOf(form), form, { action: "remove" }).then(function (data) {
        show(statusOf(form), data);
        if (!data.ok) return;
        form.querySelectorAll(".star-input").forEach(function (radio) { radio.checked = false; });
        var label = form.querySelector("[data-rating-value]");
        if (label) label.textContent = "Not rated";
        submitter.hidden = true;
      }).catch(function () { nativeSubmit(form, submitter); });
      return;
    }
    if (form.matches("[data-toggle-form]")) {
      event.preventDefault();
      var button = event.submitter || form.querySelector("button[name=action]");
      post(actionOf(form), form, { action: button.value }).then(function (data) {
        if (!data.ok) return;
        var on = data[form.getAttribute("data-toggle-form")];
        button.value = on ? "remove" : "add";
        button.textContent = on ? button.getAttribute("data-on") : button.getAttribute("data-off");
        announce(data.message);
      }).catch(function () { nativeSubmit(form, button); });
      return;
    }
    if (form.matches("[data-hide-form]")) {
      // Outside a card (the movie page) the form posts as usual: the page comes back with "Show it again".
      if (!form.closest("[data-card]")) return;
      event.preventDefault();
      post(actionOf(form), form, { action: "add" }).then(function (data) {
        if (!data.ok) return;
        var card = form.closest("[data-card]");
        announce(data.message);
        if (card) {
          var next = card.nextElementSibling || card.previousElementSibling;
          card.classList.add("is-hiding");
          setTimeout(function () {
            card.remove();
            var link = next && next.querySelector("a");
            if (link) link.focus();
          }, 200);
        }
      }).catch(function () { nativeSubmit(form, event.submitter); });
    }
  });

  function announce(text) {
    var region = document.querySelector("[data-messages]");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "message message-success";
    p.textContent = text;
    region.replaceChildren(p);
  }
})();
