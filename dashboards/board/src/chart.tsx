import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * Time labels in the page's language: uPlot's own are English (`10am`, `12/5/26`) and show a span
 * of seconds as `:22.000`; the axis shows seconds, minutes or dates by the span it covers.
 */
function timeFormats(lang: string, spanS: number): { axis: Intl.DateTimeFormat; legend: Intl.DateTimeFormat } {
  const axis: Intl.DateTimeFormatOptions =
    spanS < 180 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : spanS < 2 * 86_400 ? { hour: '2-digit', minute: '2-digit' } : { month: 'numeric', day: 'numeric' };
  return { axis: new Intl.DateTimeFormat(lang, axis), legend: new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'medium' }) };
}

/** A uPlot chart that follows its container's width. uPlot is loaded on first use. */
export function Chart(props: { data: uPlot.AlignedData; series: uPlot.Series[]; height?: number; bars?: boolean; label: string; lang: string; timeLabel: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: uPlot | undefined;
    let ro: ResizeObserver | undefined;
    let gone = false;
    void import('uplot').then(({ default: U }) => {
      if (gone || !el.current) return;
      const width = () => Math.max(200, el.current!.clientWidth);
      const xs = props.data[0] as ArrayLike<number>;
      const f = timeFormats(props.lang, xs.length > 1 ? xs[xs.length - 1]! - xs[0]! : 0);
      const x: uPlot.Series = { label: props.timeLabel, value: (_u, v) => (v === null || v === undefined ? '--' : f.legend.format(new Date(v * 1000))) };
      const series = props.series.map((s, i) => (i === 0 ? { ...s, ...x } : props.bars ? { ...s, paths: U.paths.bars!({ size: [0.7, 40] }) } : s));
      // Ticks at whole seconds or more (a span of seconds got sub-second ticks, labelled alike).
      const incrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000];
      const axes: uPlot.Axis[] = [{ incrs, values: (_u, splits) => splits.map((v) => f.axis.format(new Date(v * 1000))) }, { size: 60 }];
      // Room on the right for the last time label (it was cut at the chart's edge).
      plot = new U({ width: width(), height: props.height ?? 180, padding: [8, 52, 0, 0], series, axes, legend: { show: true } }, props.data, el.current);
      ro = new ResizeObserver(() => plot?.setSize({ width: width(), height: props.height ?? 180 }));
      ro.observe(el.current);
    });
    return () => {
      gone = true;
      ro?.disconnect();
      plot?.destroy();
    };
  }, [props.data, props.lang, props.timeLabel]);
  return <div class="chart" ref={el} role="img" aria-label={props.label} />;
}
