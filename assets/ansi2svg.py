#!/usr/bin/env python3
"""Turn a terminal capture with ANSI colours (`tmux capture-pane -p -e`) into an SVG.

Usage: ansi2svg.py CAPTURE.ansi OUT.svg [TITLE]

Each cell is drawn as text on its background colour, so the picture is exactly what the
terminal showed. Handles SGR 0/1/2/3/4/7/22/23/24/27, 30-37/90-97/39, 40-47/100-107/49,
38;5;N / 48;5;N and 38;2;R;G;B / 48;2;R;G;B.
"""
import html
import re
import sys

BASE = ["#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
        "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff"]
FG, BG = "#d4d4d4", "#1e1e1e"


def xterm256(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def parse(lines):
    rows = []
    # tmux writes only what changes from one cell to the next, across line ends too: a line
    # starts in the style the line before it ended in.
    style = {"fg": None, "bg": None, "bold": False, "rev": False}
    for line in lines:
        cells = []
        for m in re.finditer(r"\x1b\[([0-9;:]*)m|\x1b\[[0-9;?]*[A-Za-z]|([^\x1b])", line):
            if m.group(2) is not None:
                cells.append((m.group(2), dict(style)))
                continue
            if m.group(1) is None:
                continue
            codes = [int(c) if c else 0 for c in re.split("[;:]", m.group(1))] or [0]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    style = {"fg": None, "bg": None, "bold": False, "rev": False}
                elif c == 1:
                    style["bold"] = True
                elif c == 22:
                    style["bold"] = False
                elif c == 7:
                    style["rev"] = True
                elif c == 27:
                    style["rev"] = False
                elif 30 <= c <= 37:
                    style["fg"] = BASE[c - 30]
                elif 90 <= c <= 97:
                    style["fg"] = BASE[c - 90 + 8]
                elif c == 39:
                    style["fg"] = None
                elif 40 <= c <= 47:
                    style["bg"] = BASE[c - 40]
                elif 100 <= c <= 107:
                    style["bg"] = BASE[c - 100 + 8]
                elif c == 49:
                    style["bg"] = None
                elif c in (38, 48) and i + 1 < len(codes):
                    key = "fg" if c == 38 else "bg"
                    if codes[i + 1] == 5 and i + 2 < len(codes):
                        style[key] = xterm256(codes[i + 2])
                        i += 2
                    elif codes[i + 1] == 2 and i + 4 < len(codes):
                        style[key] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                        i += 4
                i += 1
        rows.append(cells)
    return rows


def main():
    src, out = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else "threadlab"
    with open(src, encoding="utf-8") as f:
        rows = parse(f.read().rstrip("\n").split("\n"))
    cw, ch = 9, 18
    cols = max((len(r) for r in rows), default=80)
    w, h = cols * cw + 20, len(rows) * ch + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="15">',
             f"<title>{html.escape(title)}</title>",
             f'<rect width="{w}" height="{h}" rx="6" fill="{BG}"/>']
    for y, row in enumerate(rows):
        for x, (char, st) in enumerate(row):
            fg, bg = st["fg"] or FG, st["bg"]
            if st["rev"]:
                fg, bg = bg or BG, fg
            px, py = 10 + x * cw, 10 + y * ch
            if bg:
                parts.append(f'<rect x="{px}" y="{py}" width="{cw + 0.5}" height="{ch + 0.5}" fill="{bg}"/>')
            if char.strip():
                weight = ' font-weight="bold"' if st["bold"] else ""
                parts.append(f'<text x="{px}" y="{py + 14}" fill="{fg}"{weight}>{html.escape(char)}</text>')
    parts.append("</svg>")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
