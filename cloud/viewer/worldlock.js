// Keeps the overlays on the part of the world they were computed on while the phone moves, and fades them out
// once that part is no longer in view (as the edge's AnchorFade does). A tiny grey thumbnail of the camera is
// kept when an overlay arrives; every frame, the shift that best maps it onto the current thumbnail is searched
// (a pan of the camera is mostly a shift); the overlays are drawn moved by it. When no shift fits, the view has
// changed: they fade out over FADE_MS. The overlay was computed on a keyframe a moment before it arrived; a
// wearer holds still while asking, so the view at arrival stands in for it.

export const THUMB_W = 64, THUMB_H = 36;
const MAX_SHIFT = 10;          // thumbnail pixels searched each way: a sixth of the width
const LOST_ERROR = 28;         // mean absolute grey difference (0..255) above which the view is another one
const FADE_MS = 400;

export function greyThumbnail(ctx, source) {
  ctx.drawImage(source, 0, 0, THUMB_W, THUMB_H);
  const rgba = ctx.getImageData(0, 0, THUMB_W, THUMB_H).data;
  const grey = new Float32Array(THUMB_W * THUMB_H);
  for (let i = 0; i < grey.length; i++) grey[i] = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
  return grey;
}

// The shift (dx, dy) in thumbnail pixels with current(x + dx, y + dy) ~ reference(x, y), and its mean error.
export function bestShift(reference, current) {
  let best = { dx: 0, dy: 0, error: Infinity };
  for (let dy = -MAX_SHIFT; dy <= MAX_SHIFT; dy++) {
    for (let dx = -MAX_SHIFT; dx <= MAX_SHIFT; dx++) {
      let sum = 0, count = 0;
      for (let y = Math.max(0, -dy); y < Math.min(THUMB_H, THUMB_H - dy); y++) {
        const row = y * THUMB_W, shifted = (y + dy) * THUMB_W + dx;
        for (let x = Math.max(0, -dx); x < Math.min(THUMB_W, THUMB_W - dx); x++) {
          sum += Math.abs(reference[row + x] - current[shifted + x]);
          count++;
        }
      }
      const error = sum / count;
      if (error < best.error) best = { dx, dy, error };
    }
  }
  return best;
}

export class WorldLock {
  constructor() {
    const canvas = document.createElement("canvas");
    canvas.width = THUMB_W; canvas.height = THUMB_H;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.reference = null;
    this.lostAt = null;
  }

  anchor(source) {
    this.reference = greyThumbnail(this.ctx, source);
    this.lostAt = null;
  }

  // Where to draw the overlays on this frame: a shift as a fraction of the frame, and an opacity.
  follow(source, nowMs) {
    if (!this.reference) return { x: 0, y: 0, alpha: 1 };
    const shift = bestShift(this.reference, greyThumbnail(this.ctx, source));
    if (shift.error <= LOST_ERROR) {
      this.lostAt = null;
      this.last = { x: shift.dx / THUMB_W, y: shift.dy / THUMB_H };
      return { ...this.last, alpha: 1 };
    }
    this.lostAt ??= nowMs;
    return { ...(this.last ?? { x: 0, y: 0 }), alpha: Math.max(0, 1 - (nowMs - this.lostAt) / FADE_MS) };
  }
}
