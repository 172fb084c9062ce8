// Show only the parts of the filing form that the chosen approval process uses (the form works without it).
(function () {
  const form = document.getElementById("application-form");
  if (!form) return;
  const parts = form.querySelectorAll("[data-process]");
  function update() {
    const chosen = form.querySelector("input[name=process_id]:checked");
    parts.forEach(function (part) {
      part.hidden = !chosen || part.dataset.process !== chosen.value;
    });
  }
  form.querySelectorAll("input[name=process_id]").forEach(function (radio) {
    radio.addEventListener("change", update);
  });
  update();
})();
