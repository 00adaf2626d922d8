import { formatNumber } from '../lib/format';

export interface Bar {
  label: string;
  value: number;
}

/**
 * Columns as inline SVG (no chart library): scales with the phone's width, one accessible name that
 * says what it shows; the numbers themselves are in the table that goes with it.
 */
export function ColumnChart({ bars, label }: { bars: Bar[]; label: string }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const width = Math.max(bars.length * 12, 120);
  const height = 80;
  const step = width / Math.max(bars.length, 1);
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height + 2}`} role="img" aria-label={label} preserveAspectRatio="none">
      <line x1={0} y1={height + 1} x2={width} y2={height + 1} class="chart-axis" />
      {bars.map((bar, i) => {
        const h = (bar.value / max) * height;
        return (
          <rect key={bar.label} x={i * step + step * 0.15} y={height - h} width={step * 0.7} height={h} class="chart-bar">
            <title>{`${bar.label}: ${formatNumber(bar.value)}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

/** Horizontal bars with their labels and values as text (readable at any size, no colour needed). */
export function BarList({ bars, label }: { bars: Bar[]; label: string }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return (
    <ul class="bar-list" aria-label={label}>
      {bars.map((bar) => (
        <li key={bar.label}>
          <span class="bar-list-label">{bar.label}</span>
          <span class="bar-list-track" aria-hidden="true">
            <span class="bar-list-fill" style={{ width: `${(bar.value / max) * 100}%` }} />
          </span>
          <span class="bar-list-value">{formatNumber(bar.value)}</span>
        </li>
      ))}
    </ul>
  );
}
