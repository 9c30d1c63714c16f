/**
 * A candlestick chart drawn on a canvas: bars from `market/bars`, the last bar moved (or a
 * new one begun) by each live quote. Colors come from the page's CSS variables, so it follows
 * the theme and the up/down convention of the language.
 */

import { decimalsOf } from '../format.js';

const AXIS_WIDTH = 64;
const AXIS_HEIGHT = 20;
const PAD = 8;
const MIN_BAR = 4;
const MAX_BAR = 14;
const PRICE_LINES = 5;
const TIME_LABEL_SPACING = 90;
const LABEL_HEIGHT = 16;

const INTERVAL_MS = { '1m': 60000, '5m': 300000, '1d': 86400000 };

export class CandleChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.bars = [];
    this.interval = '1m';
    this.tick = null;
    this.pending = false;
    new ResizeObserver(() => this.redraw()).observe(canvas);
    document.addEventListener('themechange', () => this.redraw());
  }

  setBars(bars, interval, tick) {
    this.bars = bars.map((b) => ({ ...b, time: Date.parse(b.time) }));
    this.interval = interval;
    this.tick = tick;
    this.redraw();
  }

  /** A trade price at `iso`: moves the last bar, or starts the next one. */
  addPrice(iso, value) {
    if (value === null || value === undefined || !this.bars.length) return;
    const at = Date.parse(iso);
    const last = this.bars[this.bars.length - 1];
    const step = INTERVAL_MS[this.interval];
    if (at >= last.time + step) {
      const start = last.time + Math.floor((at - last.time) / step) * step;
      this.bars.push({ time: start, open: value, high: value, low: value, close: value });
    } else {
      last.close = value;
      last.high = Math.max(last.high, value);
      last.low = Math.min(last.low, value);
    }
    this.redraw();
  }

  /** Draw at the next frame (many quotes in one frame draw once). */
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const color = (name) => style.getPropertyValue(name).trim();
    const colors = {
      up: color('--up'),
      down: color('--down'),
      grid: color('--line'),
      text: color('--muted'),
      last: color('--accent'),
    };
    ctx.font = `11px ${style.fontFamily}`;
    const plot = { left: PAD, top: PAD, right: width - AXIS_WIDTH, bottom: height - AXIS_HEIGHT };
    const slot = Math.max(
      MIN_BAR,
      Math.min(MAX_BAR, (plot.right - plot.left) / Math.max(this.bars.length, 1)),
    );
    const visible = this.bars.slice(-Math.floor((plot.right - plot.left) / slot));
    if (!visible.length) return;
    let low = Math.min(...visible.map((b) => b.low));
    let high = Math.max(...visible.map((b) => b.high));
    if (high === low) {
      high += Math.abs(high) * 0.001 || 1;
      low -= Math.abs(low) * 0.001 || 1;
    }
    const y = (value) => plot.top + ((high - value) / (high - low)) * (plot.bottom - plot.top);
    const last = visible[visible.length - 1].close;
    this.drawPriceAxis(ctx, plot, colors, low, high, y, y(last));
    this.drawTimeAxis(ctx, plot, colors, visible, slot);
    visible.forEach((bar, index) => {
      const x = plot.left + index * slot + slot / 2;
      const rising = bar.close >= bar.open;
      ctx.strokeStyle = ctx.fillStyle = rising ? colors.up : colors.down;
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, y(bar.high));
      ctx.lineTo(Math.round(x) + 0.5, y(bar.low));
      ctx.stroke();
      const top = y(Math.max(bar.open, bar.close));
      const body = Math.max(1, y(Math.min(bar.open, bar.close)) - top);
      ctx.fillRect(Math.round(x - slot * 0.35), top, Math.max(1, Math.round(slot * 0.7)), body);
    });
    this.drawLast(ctx, plot, colors, last, y);
  }

  label(value) {
    const digits = decimalsOf(this.tick);
    return digits === null ? String(value) : value.toFixed(digits);
  }

  /** Grid lines with their prices (except where the last price's label goes). */
  drawPriceAxis(ctx, plot, colors, low, high, y, lastAt) {
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (let i = 0; i <= PRICE_LINES; i += 1) {
      const value = low + ((high - low) * i) / PRICE_LINES;
      const at = Math.round(y(value)) + 0.5;
      ctx.strokeStyle = colors.grid;
      ctx.beginPath();
      ctx.moveTo(plot.left, at);
      ctx.lineTo(plot.right, at);
      ctx.stroke();
      if (Math.abs(at - lastAt) < LABEL_HEIGHT) continue;
      ctx.fillStyle = colors.text;
      ctx.fillText(this.label(value), plot.right + 6, at);
    }
  }

  drawTimeAxis(ctx, plot, colors, bars, slot) {
    const every = Math.max(1, Math.round(TIME_LABEL_SPACING / slot));
    ctx.fillStyle = colors.text;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    bars.forEach((bar, index) => {
      if ((bars.length - 1 - index) % every !== 0) return;
      const x = plot.left + index * slot + slot / 2;
      if (x < plot.left + 20 || x > plot.right - 20) return;
      const date = new Date(bar.time);
      const text =
        this.interval === '1d'
          ? `${date.getMonth() + 1}/${date.getDate()}`
          : date.toTimeString().slice(0, 5);
      ctx.fillText(text, x, plot.bottom + 5);
    });
  }

  drawLast(ctx, plot, colors, value, y) {
    const at = Math.round(y(value)) + 0.5;
    ctx.strokeStyle = colors.last;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(plot.left, at);
    ctx.lineTo(plot.right, at);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = colors.last;
    ctx.fillRect(plot.right, at - LABEL_HEIGHT / 2, AXIS_WIDTH, LABEL_HEIGHT);
    ctx.fillStyle = '#fff';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    ctx.fillText(this.label(value), plot.right + 6, at);
  }
}
