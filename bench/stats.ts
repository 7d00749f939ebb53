/** Small statistics for benchmark figures: nearest-rank percentiles over measured runs. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export const median = (v: number[]) => percentile(v, 50);

export interface Summary {
  runs: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export function summarize(values: number[]): Summary {
  return { runs: values.length, median: round(median(values)), p95: round(percentile(values, 95)), min: round(Math.min(...values)), max: round(Math.max(...values)) };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The same value in every run (a constant cost), else the distinct values seen. */
export function constant(values: number[]): number | number[] {
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  return distinct.length === 1 ? distinct[0]! : distinct;
}
