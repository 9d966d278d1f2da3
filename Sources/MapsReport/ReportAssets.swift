/// The page's style sheet and script, inlined into every report.
///
/// Colours: the Okabe-Ito palette (distinguishable with the common colour
/// vision deficiencies); every colour also comes with a shape, a pattern or
/// a label, so nothing is said by hue alone.
enum ReportAssets {
    static let css = """
        :root { --ink: #1a1a1a; --muted: #555; --rule: #ccc; --bg: #fff; --panel: #f5f5f2; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
        header { padding: 10px 20px 4px; border-bottom: 1px solid var(--rule); }
        h1 { font-size: 20px; margin: 0; word-break: break-all; }
        h2 { font-size: 17px; margin: 18px 0 6px; }
        h3 { font-size: 14px; margin: 12px 0 4px; }
        .sub, .note, .strip-legend { color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
        nav { position: sticky; top: 0; z-index: 5; background: var(--bg); border-bottom: 1px solid var(--rule); padding: 5px 20px; display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 13px; }
        .navlabel { color: var(--muted); }
        main { max-width: 1240px; padding: 0 20px 40px; }
        section { scroll-margin-top: 40px; }
        section.snapshot { border-top: 2px solid var(--rule); margin-top: 22px; }
        a { color: #0055a5; }
        code, pre { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
        dl.facts dt { font-weight: 600; }
        dl.facts dd { margin: 0; word-break: break-word; }
        table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
        caption { text-align: left; font-weight: 600; padding: 2px 0; }
        th, td { border-bottom: 1px solid #e2e2e2; padding: 2px 8px; text-align: right; white-space: nowrap; }
        th:first-child, td:first-child, td:last-child, th:last-child { text-align: left; }
        table.guarantees td { text-align: left; }
        table.survey td:nth-child(2), table.survey th:nth-child(2) { text-align: left; }
        tr.violated td:last-child { font-weight: 700; }
        td.never { font-weight: 700; text-decoration: underline dotted; }
        .kind { white-space: nowrap; }
        .glyph { display: inline-block; width: 1.1em; text-align: center; }
        .kind-duplicated .glyph { color: #D55E00; }
        .kind-missing .glyph { color: #0072B2; }
        .kind-torn .glyph { color: #000; }
        .kind-intra_read .glyph { color: #CC79A7; }
        .kind-phantom .glyph { color: #E69F00; }
        .timeline { position: relative; margin: 4px 0 10px 84px; }
        .lanes { position: absolute; left: -84px; top: 0; width: 80px; height: 150px; font-size: 12px; color: var(--muted); }
        .lanes span { position: absolute; right: 4px; line-height: 28px; }
        .plot { position: relative; height: 150px; }
        .timeline-canvas { display: block; width: 100%; height: 150px; border: 1px solid var(--rule); cursor: crosshair; }
        .axis { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
        .marker { position: absolute; text-decoration: none; font-size: 12px; line-height: 14px; background: rgba(255,255,255,.85); border: 1px solid #888; border-radius: 3px; padding: 0 2px; white-space: nowrap; color: var(--ink); }
        .marker .label { font-size: 10px; margin-left: 1px; }
        .marker:hover, .marker:focus, .marker.selected { z-index: 3; border-color: #000; outline: 2px solid #000; background: #ffd; }
        .anomaly-marker { top: 109px; transform: translateX(-50%); }
        .row { display: flex; gap: 18px; align-items: flex-start; }
        figure.strip { margin: 0; flex: 0 0 440px; }
        figure.strip figcaption { font-size: 12px; font-weight: 600; }
        .strip-heads { position: relative; height: 16px; font-size: 11px; color: var(--muted); }
        .strip-heads span { position: absolute; top: 0; }
        .strip-plot { position: relative; width: 440px; height: 360px; }
        .strip-canvas { display: block; width: 278px; height: 360px; border: 1px solid var(--rule); }
        .strip-marker { left: 284px; transform: translateY(-50%); }
        .anomalies { flex: 1 1 auto; min-width: 0; max-height: 560px; overflow: auto; }
        details.anomaly { border: 1px solid #ddd; border-radius: 4px; margin: 4px 0; padding: 3px 8px; background: var(--panel); }
        details.anomaly[open] { background: #fff; }
        details.anomaly.selected { border-color: #000; box-shadow: 0 0 0 2px #000; }
        details.anomaly summary { cursor: pointer; }
        details.anomaly p { margin: 4px 0; }
        pre.diff { background: var(--panel); padding: 6px; overflow-x: auto; margin: 4px 0; }
        pre.diff ins { text-decoration: none; background: #e0f0ff; }
        pre.diff del { text-decoration: line-through; background: #fde8d8; }
        pre.diff i { font-style: normal; color: #6b4e00; }
        table.epochs td:first-child { text-align: left; }
        .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; border: 1px solid #333; }
        #tooltip { position: fixed; z-index: 10; pointer-events: none; background: #222; color: #fff; font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; padding: 4px 6px; border-radius: 3px; white-space: pre; }
        @media print { nav { position: static; } .anomalies { max-height: none; } }

        """

    static let script = """
        'use strict';
        (function () {
          const started = performance.now();
          const errors = [];
          window.addEventListener('error', (event) => {
            errors.push(String(event.message));
            document.documentElement.setAttribute('data-page-errors', errors.join(' | '));
          });
          const data = JSON.parse(document.getElementById('report-data').textContent);
          const pictures = new Map(data.map((picture) => [picture.index, picture]));
          // Okabe-Ito; odd epochs are also hatched, so neighbours differ without hue.
          const palette = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#7F7F7F'];
          const patterns = new Map();
          function epochFill(context, epoch) {
            if (epoch < 0) return epoch === -2 ? '#000' : '#fff';
            const colour = palette[epoch % palette.length];
            if (epoch % 2 === 0) return colour;
            const key = colour;
            if (!patterns.has(key)) {
              const tile = document.createElement('canvas');
              tile.width = 8; tile.height = 8;
              const t = tile.getContext('2d');
              t.fillStyle = colour; t.fillRect(0, 0, 8, 8);
              t.strokeStyle = 'rgba(255,255,255,0.9)'; t.lineWidth = 2;
              t.beginPath(); t.moveTo(0, 8); t.lineTo(8, 0); t.moveTo(-2, 2); t.lineTo(2, -2); t.moveTo(6, 10); t.lineTo(10, 6); t.stroke();
              patterns.set(key, tile);
            }
            return context.createPattern(patterns.get(key), 'repeat');
          }
          function ms(ns) { return (ns / 1e6).toFixed(6) + ' ms'; }
          function us(ns) { return (ns / 1e3).toFixed(3) + ' µs'; }
          function setup(canvas, cssHeight) {
            const ratio = window.devicePixelRatio || 1;
            const width = Math.max(canvas.clientWidth, 10);
            canvas.width = Math.round(width * ratio);
            canvas.height = Math.round(cssHeight * ratio);
            const context = canvas.getContext('2d');
            context.setTransform(ratio, 0, 0, ratio, 0, 0);
            return { context, width };
          }
          const lanes = { epochs: [2, 30], reads: [38, 30], mutations: [74, 30], anomalies: [108, 40] };

          function drawTimeline(element) {
            const picture = pictures.get(Number(element.dataset.snapshot));
            if (!picture) return;
            const canvas = element.querySelector('canvas');
            const { context, width } = setup(canvas, 150);
            const span = Math.max(picture.spanNs, 1);
            const x = (ns) => (ns / span) * width;
            context.clearRect(0, 0, width, 150);
            // Epoch bands, labelled.
            context.font = '11px system-ui, sans-serif';
            context.textBaseline = 'middle';
            for (const epoch of picture.epochs) {
              const left = x(epoch.beginNs), right = Math.max(x(epoch.endNs), left + 1);
              context.fillStyle = epochFill(context, epoch.index);
              context.fillRect(left, lanes.epochs[0], right - left, lanes.epochs[1]);
              context.fillStyle = 'rgba(0,0,0,0.06)';
              context.fillRect(left, lanes.reads[0], right - left, 96);
              const label = 'e' + epoch.index, labelWidth = context.measureText(label).width + 4;
              if (right - left > labelWidth + 3) {
                context.fillStyle = '#fff';
                context.fillRect(left + 2, lanes.epochs[0] + 8, labelWidth, 14);
                context.fillStyle = '#000';
                context.fillText('e' + epoch.index, left + 3, lanes.epochs[0] + 15);
              }
            }
            // Reads: alternating shades so neighbours are told apart.
            picture.reads.forEach((read, i) => {
              const left = x(read[0]), right = Math.max(x(read[1]), left + 1);
              context.fillStyle = i % 2 ? '#8a8a8a' : '#3d3d3d';
              context.fillRect(left, lanes.reads[0] + (i % 2 ? 4 : 0), right - left, lanes.reads[1] - 4);
            });
            // Mutations: a tick per bin with any, its height the count (density).
            const bins = picture.mutationBins;
            const most = Math.max(1, ...bins);
            context.fillStyle = '#1a1a1a';
            bins.forEach((count, i) => {
              if (!count) return;
              const left = (i / bins.length) * width;
              const height = Math.max(3, (count / most) * lanes.mutations[1]);
              context.fillRect(left, lanes.mutations[0] + lanes.mutations[1] - height, Math.max(1, width / bins.length - 0.3), height);
            });
            // A hairline at every anomaly across the lanes.
            context.strokeStyle = 'rgba(0,0,0,0.55)';
            context.setLineDash([3, 3]);
            for (const mark of picture.anomalies) {
              const at = Math.round(x(mark.timeNs)) + 0.5;
              context.beginPath(); context.moveTo(at, lanes.epochs[0]); context.lineTo(at, lanes.anomalies[0]); context.stroke();
            }
            context.setLineDash([]);
          }

          function drawStrip(figure) {
            const picture = pictures.get(Number(figure.dataset.snapshot));
            if (!picture) return;
            const strip = picture.strip;
            const canvas = figure.querySelector('canvas');
            const height = 360;
            const { context } = setup(canvas, height);
            const bins = strip.epoch.length;
            const row = height / bins;
            const columns = { epoch: [0, 80], seen: [82, 22], truth: [108, 80], truthRW: [190, 22], differs: [216, 54] };
            context.clearRect(0, 0, 278, height);
            strip.epoch.forEach((epoch, i) => {
              context.fillStyle = epochFill(context, epoch);
              context.fillRect(columns.epoch[0], i * row, columns.epoch[1], row + 0.5);
              const shade = 250 - Math.round(strip.truthMapped[i] * 0.7);
              context.fillStyle = 'rgb(' + shade + ',' + shade + ',' + shade + ')';
              context.fillRect(columns.truth[0], i * row, columns.truth[1], row + 0.5);
              if (strip.differs[i] > 0) {
                context.fillStyle = 'rgba(213,94,0,' + (0.35 + strip.differs[i] / 160) + ')';
                context.fillRect(columns.differs[0], i * row, columns.differs[1], row + 0.5);
                context.fillStyle = '#000';
                if (i % 3 === 0) context.fillRect(columns.differs[0], i * row, columns.differs[1], Math.max(1, row / 3));
              }
            });
            // Epoch labels where a run of bins starts.
            context.font = '11px system-ui, sans-serif';
            context.textBaseline = 'top';
            let runStart = 0;
            for (let i = 1; i <= bins; i++) {
              if (i === bins || strip.epoch[i] !== strip.epoch[runStart]) {
                if (strip.epoch[runStart] >= 0 && (i - runStart) * row >= 13) {
                  context.fillStyle = '#fff';
                  context.fillRect(2, runStart * row + 1, context.measureText('e' + strip.epoch[runStart]).width + 3, 12);
                  context.fillStyle = '#000';
                  context.fillText('e' + strip.epoch[runStart], 3, runStart * row + 1);
                }
                runStart = i;
              }
            }
            function arrows(list, left, pointRight) {
              context.fillStyle = '#000';
              for (const at of list) {
                const y = at * height;
                context.beginPath();
                if (pointRight) { context.moveTo(left + 2, y - 5); context.lineTo(left + 14, y); context.lineTo(left + 2, y + 5); }
                else { context.moveTo(left + 16, y - 5); context.lineTo(left + 4, y); context.lineTo(left + 16, y + 5); }
                context.fill();
              }
            }
            // Each anomaly's address range, a bar beside the differences.
            context.fillStyle = '#000';
            for (const mark of picture.anomalies) {
              const top = mark.addressLow * height, bottom = Math.max(mark.addressHigh * height, top + 2);
              context.fillRect(273, top, 4, bottom - top);
            }
            arrows(strip.readWriteSeen, columns.seen[0], true);
            arrows(strip.readWriteTruth, columns.truthRW[0], false);
            context.strokeStyle = '#999';
            for (const column of [columns.truth, columns.differs]) context.strokeRect(column[0] + 0.5, 0.5, column[1] - 1, height - 1);
          }

          // Markers that would cover each other go to another row (timeline)
          // or column (strip).
          function stagger(markers, horizontal, base, step, slots) {
            const ends = [];
            const boxes = markers.map((marker) => ({ marker, box: marker.getBoundingClientRect() }));
            boxes.sort((a, b) => horizontal ? a.box.left - b.box.left : a.box.top - b.box.top);
            for (const { marker, box } of boxes) {
              const begin = horizontal ? box.left : box.top, size = horizontal ? box.width : box.height;
              let slot = ends.findIndex((end) => end <= begin);
              if (slot < 0) slot = ends.length < slots ? ends.length : ends.indexOf(Math.min(...ends));
              ends[slot] = begin + size + 1;
              marker.style[horizontal ? 'top' : 'left'] = (base + slot * step) + 'px';
            }
          }
          function drawAll() {
            document.querySelectorAll('.timeline').forEach(drawTimeline);
            document.querySelectorAll('figure.strip').forEach(drawStrip);
            document.querySelectorAll('.timeline .plot').forEach((plot) => {
              const markers = [...plot.querySelectorAll('.anomaly-marker')];
              markers.forEach((m) => { m.style.top = ''; });
              stagger(markers, true, 109, 13, 3);
            });
            document.querySelectorAll('.strip-plot').forEach((plot) => {
              const markers = [...plot.querySelectorAll('.strip-marker')];
              markers.forEach((m) => { m.style.left = ''; });
              stagger(markers, false, 284, 52, 3);
            });
          }

          // Hover: which read (or epoch, or mutation bin) is under the pointer.
          const tooltip = document.getElementById('tooltip');
          function hover(event) {
            const element = event.currentTarget.closest('.timeline');
            const picture = pictures.get(Number(element.dataset.snapshot));
            const box = event.currentTarget.getBoundingClientRect();
            const px = event.clientX - box.left, py = event.clientY - box.top;
            const span = Math.max(picture.spanNs, 1);
            const at = (px / box.width) * span;
            const slack = (2 / box.width) * span;
            let text = '';
            if (py >= lanes.reads[0] && py < lanes.reads[0] + lanes.reads[1]) {
              const reads = picture.reads;
              let low = 0, high = reads.length;
              while (low < high) { const mid = (low + high) >> 1; if (reads[mid][1] < at - slack) low = mid + 1; else high = mid; }
              const read = reads[low];
              if (read && read[0] <= at + slack) {
                text = 'read ' + low + ' (#' + read[5] + ')\\nbytes ' + read[2] + '-' + (read[2] + Math.max(read[4], 0)) +
                  '\\nrequested ' + read[3] + ', returned ' + read[4] +
                  '\\nbegin ' + ms(picture.beginNs + read[0]) + '\\nend   ' + ms(picture.beginNs + read[1]) + ' (' + us(read[1] - read[0]) + ')';
              }
            } else if (py < lanes.epochs[0] + lanes.epochs[1]) {
              const epoch = picture.epochs.find((e) => e.beginNs - slack <= at && at <= e.endNs + slack);
              if (epoch) text = 'epoch ' + epoch.index + ': lines ' + epoch.firstLine + '-' + epoch.lastLine + '\\nstates ' + epoch.stateMin + (epoch.stateMax !== epoch.stateMin ? '..' + epoch.stateMax : '');
            } else if (py >= lanes.mutations[0] && py < lanes.mutations[0] + lanes.mutations[1]) {
              const bins = picture.mutationBins;
              const i = Math.min(bins.length - 1, Math.max(0, Math.floor((px / box.width) * bins.length)));
              text = bins[i] + ' mutation(s) began in\\n' + ms(picture.beginNs + (i * span) / bins.length) + ' + ' + us(span / bins.length);
            }
            if (!text) { tooltip.hidden = true; return; }
            tooltip.textContent = text;
            tooltip.hidden = false;
            const left = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 4);
            tooltip.style.left = left + 'px';
            tooltip.style.top = (event.clientY + 16) + 'px';
          }
          document.querySelectorAll('.timeline-canvas').forEach((canvas) => {
            canvas.addEventListener('mousemove', hover);
            canvas.addEventListener('mouseleave', () => { tooltip.hidden = true; });
          });

          // Clicking an anomaly (a marker or its entry) shows its boundary,
          // culprits and diff excerpt, and highlights it everywhere.
          function select(id) {
            const details = document.getElementById(id);
            if (!details) return;
            document.querySelectorAll('.selected').forEach((node) => node.classList.remove('selected'));
            details.open = true;
            details.classList.add('selected');
            document.querySelectorAll('.marker[data-target="' + id + '"]').forEach((node) => node.classList.add('selected'));
            details.scrollIntoView({ block: 'nearest' });
          }
          document.querySelectorAll('.marker').forEach((marker) => {
            marker.addEventListener('click', (event) => {
              event.preventDefault();
              history.replaceState(null, '', '#' + marker.dataset.target);
              select(marker.dataset.target);
            });
          });
          document.querySelectorAll('details.anomaly').forEach((details) => {
            details.addEventListener('toggle', () => {
              document.querySelectorAll('.marker[data-target="' + details.id + '"]').forEach((node) => node.classList.toggle('selected', details.open));
            });
          });
          document.querySelectorAll('.swatch').forEach((swatch) => {
            const epoch = Number(swatch.dataset.epoch);
            swatch.style.background = palette[epoch % palette.length];
            if (epoch % 2) swatch.style.backgroundImage = 'repeating-linear-gradient(135deg, transparent 0 3px, rgba(255,255,255,.9) 3px 5px)';
          });
          if (location.hash.length > 1 && document.getElementById(location.hash.slice(1)) instanceof HTMLDetailsElement) select(location.hash.slice(1));
          let pending = 0;
          window.addEventListener('resize', () => { cancelAnimationFrame(pending); pending = requestAnimationFrame(drawAll); });
          drawAll();
          document.documentElement.setAttribute('data-render-ms', (performance.now() - started).toFixed(1));
          document.documentElement.setAttribute('data-ready', 'yes');
          // Time from navigation start to the load event: what tools/bench-report.sh reports.
          window.addEventListener('load', () => {
            setTimeout(() => document.documentElement.setAttribute('data-load-ms', performance.now().toFixed(1)), 0);
          });
        })();

        """
}
