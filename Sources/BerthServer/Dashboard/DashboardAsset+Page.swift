// The dashboard's one HTML page: the frame the script fills (served at `/`).
// Edited here, as plain html: the raw string below is the asset byte for byte.
extension DashboardAsset {
    static let page = DashboardAsset(
        contentType: "text/html; charset=utf-8",
        text: #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Berth</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/style.css">
<script src="/ui/app.js" defer></script>
</head>
<body class="signed-out">
<header>
<a class="brand" href="#/executions">Berth</a>
<nav>
<a href="#/executions" data-section="executions">Executions</a>
<a href="#/hosts" data-section="hosts">Hosts</a>
<a href="#/plugins" data-section="plugins">Plugins</a>
</nav>
<button type="button" id="sign-out">Sign out</button>
</header>
<main id="main"><noscript>The Berth dashboard needs JavaScript. The CLI (berth ps, berth logs -f) shows the same.</noscript></main>
</body>
</html>
"""#)
}
