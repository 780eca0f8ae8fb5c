/// The status page served at `/`: one self-contained HTML document (no external asset) that reads
/// `/api/status` every two seconds and draws it. Every text from the service is set with `textContent`.
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>algoqueue</title>
        <style>
          body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }
          header { background: #1d232b; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: center; }
          header h1 { font-size: 18px; margin: 0; }
          #readiness { padding: 2px 10px; border-radius: 10px; font-weight: 600; }
          .ready { background: #2e8b57; } .notready { background: #c0392b; } .stopping { background: #b9770e; }
          main { padding: 16px 24px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
          section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
          h2 { font-size: 14px; margin: 0 0 8px; color: #555; text-transform: uppercase; letter-spacing: .04em; }
          .numbers { display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; }
          .numbers div span { display: block; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
          .bar { height: 10px; background: #e4e7eb; border-radius: 5px; margin-top: 10px; overflow: hidden; }
          .bar div { height: 100%; background: #2e8b57; width: 0; }
          table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
          th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid #eee; vertical-align: top; }
          td.error { color: #c0392b; max-width: 420px; overflow-wrap: anywhere; }
          svg { width: 100%; height: 120px; background: #fbfcfd; }
          #reasons { margin: 0; color: #c0392b; }
          .muted { color: #888; }
          .chart { display: grid; grid-template-columns: auto 1fr; gap: 0 6px; font-size: 12px; color: #888; }
          .yaxis { display: flex; flex-direction: column; justify-content: space-between; text-align: right; }
          .xaxis { grid-column: 2; display: flex; justify-content: space-between; }
          #about { font-size: 12px; color: #c9d1d9; }
        </style>
        </head>
        <body>
        <header><h1>algoqueue</h1><span id="readiness">…</span><span id="about"></span><span id="updated" class="muted"></span></header>
        <main>
          <section>
            <h2>Progress</h2>
            <div class="numbers">
              <div>consumed<span id="consumed">–</span></div>
              <div>ok<span id="ok">–</span></div>
              <div>errors<span id="errors">–</span></div>
              <div>lag<span id="lag">–</span></div>
              <div>rows/s<span id="rate">–</span></div>
            </div>
            <div class="bar"><div id="progress"></div></div>
            <p class="muted" id="detail"></p>
            <ul id="reasons"></ul>
          </section>
          <section>
            <h2>Rows written per second, last minutes</h2>
            <div class="chart">
              <div class="yaxis"><span id="ymax">–</span><span>0</span></div>
              <svg id="chart" viewBox="0 0 600 120" preserveAspectRatio="none"><polyline id="line" fill="none" stroke="#2e8b57" stroke-width="2" points=""/></svg>
              <div class="xaxis"><span id="xstart"></span><span id="xend"></span></div>
            </div>
            <p class="muted" id="chartscale"></p>
          </section>
          <section>
            <h2>Partitions</h2>
            <table><thead><tr><th>topic</th><th>partition</th><th>position</th><th>end</th><th>lag</th></tr></thead><tbody id="partitions"></tbody></table>
          </section>
          <section>
            <h2>Algorithms</h2>
            <table><thead><tr><th>name</th><th>ok</th><th>errors</th><th>circuit</th><th>rate limit</th><th>paused</th><th>last failure</th></tr></thead><tbody id="algorithms"></tbody></table>
          </section>
          <section style="grid-column: 1 / -1">
            <h2>Last errors</h2>
            <table><thead><tr><th>when (UTC)</th><th>input</th><th>algorithm</th><th>error</th></tr></thead><tbody id="lasterrors"></tbody></table>
          </section>
        </main>
        <script>
        const $ = (id) => document.getElementById(id);
        const fmt = (n) => Number(n).toLocaleString("en-US");
        // Times in UTC, as the logs print them.
        const utc = (iso) => new Date(iso).toISOString().slice(11, 19);
        function span(seconds) {
          const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
          return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
        }
        function rows(body, list, cells) {
          body.replaceChildren(...list.map((item) => {
            const tr = document.createElement("tr");
            for (const [text, cls] of cells(item)) {
              const td = document.createElement("td");
              td.textContent = text;
              if (cls) td.className = cls;
              tr.appendChild(td);
            }
            return tr;
          }));
        }
        function draw(s) {
          const state = s.stopping ? ["stopping", "stopping"] : s.ready ? ["ready", "ready"] : ["not ready", "notready"];
          $("readiness").textContent = state[0];
          $("readiness").className = state[1];
          $("updated").textContent = "updated " + utc(s.generated_at) + " UTC";
          $("about").textContent = `${s.version} · group ${s.group} · ${s.topics.join(", ")} · ${s.database} · up ${span(s.uptime_seconds)} (since ${utc(s.started_at)} UTC)`;
          $("consumed").textContent = fmt(s.consumed);
          $("ok").textContent = fmt(s.totals.ok);
          $("errors").textContent = fmt(s.totals.errors);
          $("lag").textContent = fmt(s.lag);
          $("rate").textContent = fmt(Math.round(s.rows_per_second));
          const done = s.totals.durable, total = done + s.lag;
          $("progress").style.width = (total > 0 ? (100 * done / total) : 0) + "%";
          $("detail").textContent = `${fmt(done)} of ${fmt(total)} messages written; retried ${fmt(s.totals.retried)}, ` +
            `from the cache ${fmt(s.totals.cached)}, dead-lettered ${fmt(s.totals.dead_lettered)}` +
            `; ${fmt(s.calls_in_flight)} call(s) in flight` +
            (s.concurrency_limit != null ? ` of a limit of ${s.concurrency_limit}` : "") +
            (s.oldest_call_seconds != null ? `; oldest call ${s.oldest_call_seconds.toFixed(1)} s` : "");
          $("reasons").replaceChildren(...s.reasons.map((r) => { const li = document.createElement("li"); li.textContent = r; return li; }));
          const points = s.history, max = Math.max(1, ...points.map((p) => p.rows_per_second));
          $("line").setAttribute("points", points.map((p, i) =>
            `${(points.length < 2 ? 0 : 600 * i / (points.length - 1)).toFixed(1)},${(118 - 112 * p.rows_per_second / max).toFixed(1)}`).join(" "));
          $("ymax").textContent = fmt(Math.round(max)) + " rows/s";
          $("xstart").textContent = points.length ? utc(points[0].at) + " UTC" : "";
          $("xend").textContent = points.length ? utc(points[points.length - 1].at) + " UTC" : "";
          $("chartscale").textContent = points.length ? `${points.length} samples` : "no samples yet";
          rows($("partitions"), s.partitions, (p) => [[p.topic], [p.partition], [fmt(p.position)], [fmt(p.end)], [fmt(p.lag)]]);
          rows($("algorithms"), s.algorithms, (a) => [[a.name + (a.version ? " " + a.version : "")], [fmt(a.ok)], [fmt(a.errors)],
            [a.circuit + (a.circuit_open_seconds != null ? ` (${a.circuit_open_seconds.toFixed(1)} s)` : "")],
            [a.rate_limit != null ? a.rate_limit + "/s" : "none"], [a.paused_seconds != null ? a.paused_seconds.toFixed(1) + " s" : "no"],
            [a.last_failure != null ? a.last_failure + (a.open_for_seconds != null ? ` (open ${span(a.open_for_seconds)})` : "") : "", "error"]]);
          rows($("lasterrors"), s.last_errors, (e) => [[utc(e.at)],
            [`${e.topic}/${e.partition}/${e.offset}` + (e.item >= 0 ? `/${e.item}` : "")], [e.algorithm], [e.error, "error"]]);
        }
        async function refresh() {
          try {
            const response = await fetch("api/status", { cache: "no-store" });
            draw(await response.json());
          } catch (e) {
            $("readiness").textContent = "unreachable";
            $("readiness").className = "notready";
          }
        }
        refresh();
        setInterval(refresh, 2000);
        </script>
        </body>
        </html>
        """#
}
