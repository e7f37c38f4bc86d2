// Renders /openapi.json as a plain list of endpoints, offline.
"use strict";
fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  const main = document.getElementById("eps");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = document.createElement("section"); box.className = "ep";
      const h = document.createElement("h2");
      h.innerHTML = `<code>${method.toUpperCase()} ${path}</code> — `;
      h.append(op.summary || ""); box.append(h);
      const rows = (op.parameters || []).map((p) => [p.name + (p.required ? " *" : ""), p.in, p.description || ""]);
      const body = op.requestBody && op.requestBody.content;
      if (body) rows.push(["body", Object.keys(body).join(", "), "multipart field 'file', or the raw body where listed"]);
      rows.push(["responses", "", Object.entries(op.responses || {}).map(([c, r]) => `${c} ${r.description}`).join("; ")]);
      const t = document.createElement("table");
      for (const r of rows) { const tr = t.insertRow(); for (const c of r) tr.insertCell().textContent = c; }
      box.append(t); main.append(box);
    }
  }
});
