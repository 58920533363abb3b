/* The Northport Ledger: tiny progressive enhancement for the synthetic demo site.
   Nothing here is needed to read the page; it exists so crawlers capture a script. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var shares = document.querySelectorAll("[data-share]");
  for (var i = 0; i < shares.length; i++) {
    shares[i].addEventListener("click", function (event) {
      var target = event.currentTarget.getAttribute("data-share");
      if (target === "copy" && navigator.clipboard) {
        navigator.clipboard.writeText(window.location.href);
      }
    });
  }
  var form = document.querySelector(".newsletter-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.textContent = "Thanks! Please check your inbox.";
    });
  }
})();
