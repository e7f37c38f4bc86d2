// Renders /openapi.json as a plain list of endpoints, offline.
"use strict";
fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  const main = document.getElementById("eps");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) main.append(endpoint(path, method, op));
  }
});
function endpoint(path, method, op) {
  const box = document.createElement("section"); box.className = "ep";
  const h = document.createElement("h2"), code = document.createElement("code");
  code.textContent = `${method.toUpperCase()} ${path}`;  // text, never markup: the schema is data
  h.append(code, " — ", op.summary || ""); box.append(h);
  const rows = (op.parameters || []).map((p) => [p.name + (p.required ? " *" : ""), p.in, p.description || ""]);
  const body = op.requestBody && op.requestBody.content;
  if (body) rows.push(["body", Object.keys(body).join(", "), "multipart field 'file', or the raw body where listed"]);
  rows.push(["responses", "", Object.entries(op.responses || {}).map(([c, r]) => `${c} ${r.description}`).join("; ")]);
  const t = document.createElement("table");
  for (const r of rows) { const tr = t.insertRow(); for (const c of r) tr.insertCell().textContent = c; }
  const example = document.createElement("pre");
  example.textContent = curl(path, method, op, body);
  box.append(t, example);
  return box;
}
// A command to copy: the query spells out the parameters that have a default, to show their form.
function curl(path, method, op, body) {
  const given = (op.parameters || []).filter((p) => p.in === "query" && p.schema && p.schema.default != null);
  const q = given.map((p) => `${p.name}=${encodeURIComponent(p.schema.default)}`).join("&");
  const url = `'${location.origin}${path}${q ? "?" + q : ""}'`;
  if (method !== "post") return `curl ${url}`;
  return body && body["multipart/form-data"] ? `curl -F file=@FILE ${url}` : `curl --data-binary @FILE ${url}`;
}
