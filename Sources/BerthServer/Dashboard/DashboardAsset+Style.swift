// The dashboard's style sheet (served at `/ui/style.css`), light and dark.
// Edited here, as plain css: the raw string below is the asset byte for byte.
extension DashboardAsset {
    static let style = DashboardAsset(
        contentType: "text/css; charset=utf-8",
        text: #"""
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #5d6678; --line: #dde1e8;
  --accent: #2457c5; --ok: #1d7a46; --warn: #9a6700; --bad: #b42318; --run: #2457c5;
  --mono: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #12151b; --panel: #1a1f27; --text: #e3e7ee; --muted: #9aa4b5; --line: #2c3340;
          --accent: #7aa2f7; --ok: #5ec98a; --warn: #e0b34f; --bad: #f07167; --run: #7aa2f7; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 17px; color: var(--text); text-decoration: none; }
header nav { display: flex; gap: 4px; flex: 1; }
header nav a { color: var(--muted); text-decoration: none; padding: 6px 10px; border-radius: 6px; }
header nav a.current { color: var(--text); background: var(--bg); font-weight: 600; }
body.signed-out header nav, body.signed-out #sign-out { visibility: hidden; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 16px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
a { color: var(--accent); }
.mono, code, pre { font-family: var(--mono); font-size: 13px; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
tr:last-child td { border-bottom: 0; }
td.message { color: var(--muted); max-width: 420px; overflow-wrap: anywhere; }
button, select, input { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--text); }
button { cursor: pointer; }
button[type=submit] { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { color: var(--bad); border-color: var(--bad); }
.filters { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 12px; }
.pager { display: flex; gap: 16px; justify-content: flex-end; margin-top: 10px; }
.summary, .hint { color: var(--muted); }
.error { color: var(--bad); }
.error:empty { display: none; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.state-succeeded, .badge.ok { color: var(--ok); }
.state-running { color: var(--run); }
.state-queued, .state-scheduled, .state-starting { color: var(--warn); }
.state-failed, .state-timed_out, .state-lost, .badge.bad { color: var(--bad); }
.state-cancelled { color: var(--muted); }
.title { display: flex; align-items: center; gap: 12px; }
.title h1 { margin-right: 4px; }
.title button { margin-left: auto; }
.details { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0; }
.details dt { color: var(--muted); }
.details dd { margin: 0; overflow-wrap: anywhere; }
.progress { display: flex; align-items: center; gap: 12px; }
.bar { position: relative; width: 320px; max-width: 60%; height: 10px; background: var(--line); border-radius: 5px; overflow: hidden; }
.bar .fill { position: absolute; inset: 0 auto 0 0; width: 0; background: var(--accent); transition: width .3s; }
.load .bar { width: 120px; }
.load { display: flex; flex-direction: column; gap: 4px; }
.logs { background: #0f1319; color: #d6dde8; padding: 12px; border-radius: 8px; max-height: 480px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; min-height: 3em; }
.logs .stderr { color: #f4a39b; }
.login { max-width: 420px; margin: 64px auto; display: flex; flex-direction: column; gap: 10px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 24px; }
.login h1 { margin-top: 0; }
"""#)
}
