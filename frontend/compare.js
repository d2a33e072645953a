// The compare view: the pair on screen, enlarged, zoomed and panned together (wheel, pinch, drag, + - 0),
// or flickered in one place (F) so that small differences jump out. Both viewports have the same size,
// so one transform serves both images: they can never drift apart.
"use strict";

(() => {
  const dialog = document.getElementById("compare");
  const stage = document.getElementById("compare-stage");
  const views = [...stage.querySelectorAll(".viewport")];
  const images = views.map((view) => view.querySelector("img"));
  const sources = { left: "", right: "" };
  const pointers = new Map();  // pointerId → last {x, y}
  let place = { scale: 1, x: 0, y: 0 };
  let pinchDistance = null;
  let flickerTimer = null;

  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

  function apply() {
    for (const img of images) {
      img.style.transform = `translate(${place.x}px, ${place.y}px) scale(${place.scale})`;
      img.classList.toggle("pixelated", img.naturalWidth > 0 && img.naturalWidth < 256 && place.scale > 2);
    }
    document.getElementById("zoom-level").textContent = `${Math.round(place.scale * 100)}%`;
  }

  // Native size when the image fits its viewport, else fitted; centred.
  function reset() {
    const box = views[0].getBoundingClientRect();
    const width = images[0].naturalWidth || 1, height = images[0].naturalHeight || 1;
    const scale = Math.min(1, box.width / width, box.height / height) || 1;
    place = { scale, x: (box.width - width * scale) / 2, y: (box.height - height * scale) / 2 };
    apply();
  }

  // Zoom by `factor` keeping the point (x, y) of the viewport where it is.
  function zoomAt(factor, x, y) {
    const scale = clamp(place.scale * factor, 0.05, 64);
    const k = scale / place.scale;
    place = { scale, x: x - (x - place.x) * k, y: y - (y - place.y) * k };
    apply();
  }

  function zoomCentre(factor) {
    const box = views[0].getBoundingClientRect();
    zoomAt(factor, box.width / 2, box.height / 2);
  }

  function setFlicker(on) {
    clearInterval(flickerTimer);
    flickerTimer = null;
    stage.classList.toggle("flicker", on);
    document.getElementById("compare-mode").setAttribute("aria-pressed", String(on));
    const side = document.getElementById("flicker-side");
    images[0].src = sources.left;
    side.textContent = on ? "Left" : "";
    if (!on) return;
    let showsLeft = true;
    flickerTimer = setInterval(() => {
      showsLeft = !showsLeft;
      images[0].src = showsLeft ? sources.left : sources.right;
      side.textContent = showsLeft ? "Left" : "Right";
    }, 600);
  }

  async function open(left, right) {
    if (!left || !right || dialog.open) return;
    Object.assign(sources, { left, right });
    images[0].src = left;
    images[1].src = right;
    dialog.showModal();
    try {
      await Promise.all(images.map((img) => img.decode()));
    } catch { /* shown as far as it loads */ }
    reset();
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", () => { setFlicker(false); pointers.clear(); pinchDistance = null; });

  for (const view of views) {
    view.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = view.getBoundingClientRect();
      zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    view.addEventListener("pointerdown", (event) => {
      view.setPointerCapture(event.pointerId);
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    });
    view.addEventListener("pointermove", (event) => {
      const last = pointers.get(event.pointerId);
      if (!last) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (pointers.size === 2) {  // pinch: zoom by the change of the fingers' distance, about their middle
        const [a, b] = [...pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y);
        const box = view.getBoundingClientRect();
        if (pinchDistance) zoomAt(distance / pinchDistance, (a.x + b.x) / 2 - box.left, (a.y + b.y) / 2 - box.top);
        pinchDistance = distance;
      } else if (pointers.size === 1) {
        place = { ...place, x: place.x + event.clientX - last.x, y: place.y + event.clientY - last.y };
        apply();
      }
    });
    for (const type of ["pointerup", "pointercancel"]) {
      view.addEventListener(type, (event) => { pointers.delete(event.pointerId); pinchDistance = null; });
    }
  }

  document.getElementById("compare-mode").addEventListener("click", () => setFlicker(!flickerTimer));
  document.getElementById("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  document.getElementById("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  document.getElementById("zoom-reset").addEventListener("click", reset);
  document.getElementById("compare-close").addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (!dialog.open || event.ctrlKey || event.altKey || event.metaKey) return;
    const actions = { f: () => setFlicker(!flickerTimer), z: close, "+": () => zoomCentre(1.25),
                      "=": () => zoomCentre(1.25), "-": () => zoomCentre(0.8), "0": reset };
    const action = actions[event.key.toLowerCase()];
    if (action) { event.preventDefault(); action(); }
  });

  window.dpoloopCompare = { open, close, isOpen: () => dialog.open };
})();
