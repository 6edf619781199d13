// Body of js_on_load of the ellipse canvas (wan_alpha/app/canvas.py): `element`, `props` and `trigger` come from
// gr.HTML. props.value = {start: [cx, cy, w, h, angle], end: [...], moving: bool, edit: "start"|"end", aspect: W/H}
// in frame fractions and degrees (wan_alpha.rgba.Ellipse's conventions). Drag inside an ellipse moves it, drag
// elsewhere draws a new one, the mouse wheel turns it; every edit sets props.value and triggers 'edit'.
const BOX = 320;  // the canvas' longer side in CSS pixels
let drag = null;

function canvas() { return element.querySelector("canvas"); }

function frameSize() {
  const aspect = props.value.aspect || 1;
  return aspect >= 1 ? [BOX, Math.round(BOX / aspect)] : [Math.round(BOX * aspect), BOX];
}

function contains(e, x, y) {  // x, y in frame fractions; the test of wan_alpha.rgba's ellipse raster, in fractions
  const [W, H] = frameSize();
  const t = e[4] * Math.PI / 180, dx = (x - e[0]) * W, dy = (y - e[1]) * H;
  const xr = dx * Math.cos(t) + dy * Math.sin(t), yr = -dx * Math.sin(t) + dy * Math.cos(t);
  return (xr / (e[2] * W / 2)) ** 2 + (yr / (e[3] * H / 2)) ** 2 <= 1;
}

function drawEllipse(ctx, e, W, H, fill, dashed) {
  ctx.save();
  ctx.translate(e[0] * W, e[1] * H);
  ctx.rotate(e[4] * Math.PI / 180);
  ctx.beginPath();
  ctx.ellipse(0, 0, Math.max(e[2] * W / 2, 1), Math.max(e[3] * H / 2, 1), 0, 0, 2 * Math.PI);
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.setLineDash(dashed ? [6, 4] : []);
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
  ctx.restore();
}

function draw() {
  const c = canvas();
  if (!c || !props.value) return;
  const [W, H] = frameSize();
  if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
  const ctx = c.getContext("2d");
  for (let y = 0; y < H; y += 16) for (let x = 0; x < W; x += 16) {  // transparent background: a checkerboard
    ctx.fillStyle = ((x + y) / 16) % 2 ? "#9a9a9a" : "#6a6a6a";
    ctx.fillRect(x, y, 16, 16);
  }
  const v = props.value;
  if (v.moving) {
    drawEllipse(ctx, v.end, W, H, v.edit === "end" ? "rgba(255,140,0,0.55)" : "rgba(255,140,0,0.3)", true);
    ctx.beginPath();
    ctx.moveTo(v.start[0] * W, v.start[1] * H);
    ctx.lineTo(v.end[0] * W, v.end[1] * H);
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
  }
  drawEllipse(ctx, v.start, W, H, v.edit === "end" && v.moving ? "rgba(30,144,255,0.3)" : "rgba(30,144,255,0.55)", false);
  element.querySelectorAll("[data-edit]").forEach((b) => {
    b.style.display = v.moving ? "" : "none";
    b.classList.toggle("selected", b.dataset.edit === (v.moving ? v.edit : "start"));
  });
}

function commit(value) {
  props.value = value;
  trigger("edit");
  requestAnimationFrame(draw);
}

function pointer(ev) {
  const r = canvas().getBoundingClientRect();
  return [Math.min(Math.max((ev.clientX - r.left) / r.width, 0), 1), Math.min(Math.max((ev.clientY - r.top) / r.height, 0), 1)];
}

function target(x, y) {  // which ellipse an edit applies to: the one under the pointer, else the selected one
  const v = props.value;
  const order = v.moving ? (v.edit === "end" ? ["end", "start"] : ["start", "end"]) : ["start"];
  return { key: order.find((k) => contains(v[k], x, y)) || order[0], inside: order.some((k) => contains(v[k], x, y)) };
}

element.addEventListener("pointerdown", (ev) => {
  if (ev.target !== canvas()) return;
  const [x, y] = pointer(ev);
  const { key, inside } = target(x, y);
  drag = { key, inside, x, y, from: [...props.value[key]] };
  ev.target.setPointerCapture(ev.pointerId);
  ev.preventDefault();
});

element.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  const [x, y] = pointer(ev);
  const e = [...drag.from];
  if (drag.inside) {  // move: the centre follows the pointer
    e[0] = Math.min(Math.max(drag.from[0] + x - drag.x, 0), 1);
    e[1] = Math.min(Math.max(drag.from[1] + y - drag.y, 0), 1);
  } else {  // draw: the pointer spans the new ellipse's box (unrotated)
    e[0] = (drag.x + x) / 2; e[1] = (drag.y + y) / 2;
    e[2] = Math.max(Math.abs(x - drag.x), 0.02); e[3] = Math.max(Math.abs(y - drag.y), 0.02); e[4] = 0;
  }
  const round = (n) => Math.round(n * 1000) / 1000;
  props.value = { ...props.value, [drag.key]: e.map(round), edit: props.value.moving ? drag.key : "start" };
  requestAnimationFrame(draw);
});

element.addEventListener("pointerup", () => {
  if (!drag) return;
  drag = null;
  commit({ ...props.value });
});

element.addEventListener("wheel", (ev) => {
  if (ev.target !== canvas()) return;
  ev.preventDefault();
  const [x, y] = pointer(ev);
  const { key } = target(x, y);
  const e = [...props.value[key]];
  e[4] = ((e[4] + (ev.deltaY > 0 ? 5 : -5) + 270) % 180) - 90;  // degrees, kept in [-90, 90)
  commit({ ...props.value, [key]: e });
}, { passive: false });

element.addEventListener("click", (ev) => {
  const edit = ev.target.dataset && ev.target.dataset.edit;
  if (edit) commit({ ...props.value, edit });
});

watch("value", draw);
new MutationObserver(() => requestAnimationFrame(draw)).observe(element, { childList: true, subtree: true });
draw();
