import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A uPlot chart that follows its container's width. uPlot is loaded on first use. */
export function Chart(props: { data: uPlot.AlignedData; series: uPlot.Series[]; height?: number; bars?: boolean; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: uPlot | undefined;
    let ro: ResizeObserver | undefined;
    let gone = false;
    void import('uplot').then(({ default: U }) => {
      if (gone || !el.current) return;
      const width = () => Math.max(200, el.current!.clientWidth);
      const series = props.bars ? props.series.map((s, i) => (i === 0 ? s : { ...s, paths: U.paths.bars!({ size: [0.7, 40] }) })) : props.series;
      plot = new U({ width: width(), height: props.height ?? 180, series, axes: [{}, { size: 60 }], legend: { show: true } }, props.data, el.current);
      ro = new ResizeObserver(() => plot?.setSize({ width: width(), height: props.height ?? 180 }));
      ro.observe(el.current);
    });
    return () => {
      gone = true;
      ro?.disconnect();
      plot?.destroy();
    };
  }, [props.data]);
  return <div class="chart" ref={el} role="img" aria-label={props.label} />;
}
