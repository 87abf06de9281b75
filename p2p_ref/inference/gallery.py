"""The gallery p2p-eval writes: index.html with input | output | target and each image's metrics,
worst L1 first, sortable by clicking a column header (a few lines of JavaScript, no library)."""

import html

GALLERY_SCRIPT = """
function sortBy(col, numeric, desc) {
  const body = document.querySelector('#gallery tbody');
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const u = a.cells[col].dataset.v, v = b.cells[col].dataset.v;
    const c = numeric ? parseFloat(u) - parseFloat(v) : u.localeCompare(v);
    return desc ? -c : c;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll('#gallery th[data-col]').forEach(th => {
  th.addEventListener('click', () => {
    const desc = th.dataset.desc !== 'true';
    th.dataset.desc = desc;
    sortBy(parseInt(th.dataset.col), th.dataset.numeric === 'true', desc);
  });
});
"""


def write_gallery(path, rows, summary, has_input=True):
    """index.html: one row per image (input | output | target and its metrics), worst L1 first;
    click a column header to sort by it."""
    rows = sorted(rows, key=lambda r: -r["l1"])
    esc = html.escape
    figures = ", ".join(f"{k.upper()} {summary[k]:.4g}" for k in ("l1", "psnr", "ssim", "lpips",
                                                                     "fid", "kid") if k in summary)
    keys = ["l1", "psnr", "ssim"] + (["lpips"] if rows and "lpips" in rows[0] else [])
    panels = (["input"] if has_input else []) + ["output", "target"]
    head = "".join(f"<th>{p}</th>" for p in panels)
    first = 1 + len(panels)
    body = []
    for r in rows:
        name = esc(r["name"])
        cells = [f'<td data-v="{name}">{name}</td>']
        for p in panels:
            src = f"images/{esc(r['name'])}_{p}.png"
            cells.append(f'<td><img src="{src}" alt="{p}" loading="lazy"></td>')
        for key in keys:
            cells.append(f'<td data-v="{r[key]:.6g}">{r[key]:.4f}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    lpips_head = (f'<th data-col="{first + 3}" data-numeric="true">LPIPS</th>'
                  if "lpips" in keys else "")
    notes = "".join(f"<p class=note>{esc(n)}</p>" for n in summary.get("notes", []))
    path.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>p2p-eval: {summary['images']} images</title>
<style>body{{font-family:sans-serif}} img{{width:192px;image-rendering:pixelated}}
th[data-col]{{cursor:pointer;text-decoration:underline}} td{{padding:2px 6px}}
.note{{color:#a40}}</style></head><body>
<h1>p2p-eval: {summary['images']} images</h1>
<p>{esc(figures)} (L1 on [0, 1]; PSNR in dB; lower L1, LPIPS, FID and KID are better)</p>
<p>{esc(summary.get("how", ""))}</p>{notes}
<p>Sorted by L1, worst first. Click a column header to sort by it.</p>
<table id="gallery"><thead><tr><th data-col="0" data-numeric="false">image</th>{head}
<th data-col="{first}" data-numeric="true" data-desc="true">L1</th>
<th data-col="{first + 1}" data-numeric="true">PSNR</th>
<th data-col="{first + 2}" data-numeric="true">SSIM</th>{lpips_head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script>{GALLERY_SCRIPT}</script>
</body></html>
""")
    return path
