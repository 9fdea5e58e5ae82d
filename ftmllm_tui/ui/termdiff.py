"""Send the terminal only the cells that changed (what curses does; Textual does not).

Textual repaints whole widget regions and writes every segment as ``CUP + full SGR + text +
reset``. Over SSH that is ~20× the bytes of nvitop (DESIGN.md §4). :class:`ScreenDiffer` sits
between Textual and the terminal: it keeps a model of what the terminal shows, and for each write
emits only the cells whose character or style differ, with a cursor move only where the next
changed cell is not where the cursor already is, and an SGR only where the style changes.

Anything it does not understand is passed through unchanged and, if it may alter the screen,
makes the model forget what it knew (the next frame is then sent in full). Set
``FTMLLM_TERM_DIFF=0`` to bypass it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.cells import cell_len, get_character_cell_size

_TOKEN = re.compile(
    r"\x1b\[([0-9;:?<=>]*)([ -/]*)([@-~])"  # CSI: params, intermediates, final
    r"|\x1b\]([^\x07\x1b]*)(?:\x07|\x1b\\)"  # OSC ... BEL/ST
    r"|\x1bP.*?\x1b\\"  # DCS ... ST
    r"|\x1b[^\[\]P]"  # other two-byte escapes
    r"|\r|\n"
    r"|[^\x1b\r\n]+",
    re.S,
)

_ESCAPE = re.compile(
    r"\x1b\[[0-9;:?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP.*?\x1b\\|\x1b[^\[\]P]",
    re.S,
)

_UNKNOWN = None  # a model cell we know nothing about: always repaint it

# SGR attributes and the code that turns each off (22 ends both bold and dim)
_OFF = {"1": "22", "2": "22", "3": "23", "4": "24", "21": "24", "5": "25", "6": "25", "7": "27", "8": "28",
        "9": "29", "51": "54", "52": "54", "53": "55"}


_STEPS = (0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF)
_XTERM = {**{(_STEPS[i // 36], _STEPS[i // 6 % 6], _STEPS[i % 6]): 16 + i for i in range(216)},
          **{(8 + 10 * i,) * 3: 232 + i for i in range(24)}}


@lru_cache(maxsize=4096)
def shorten_truecolor(params: str) -> str:
    """``38;2;95;215;95`` → ``38;5;77`` where the colour is exactly one of xterm's 256 (16–255): the
    same colour on the screen in half the bytes (built-in themes use only such colours)."""
    if ";2;" not in params:
        return params
    parts = params.split(";")
    out: list[str] = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("38", "48", "58") and i + 1 < len(parts):
            if parts[i + 1] == "5" and i + 2 < len(parts):
                out += parts[i:i + 3]
                i += 3
                continue
            if parts[i + 1] == "2" and i + 4 < len(parts):
                rgb = parts[i + 2:i + 5]
                n = _XTERM.get(tuple(int(c) for c in rgb)) if all(c.isdigit() for c in rgb) else None
                out += [p, "5", str(n)] if n is not None else parts[i:i + 5]
                i += 5
                continue
        out.append(p)
        i += 1
    return ";".join(out)


def _parse_sgr(params: str) -> tuple[str, str, str, frozenset[str]] | None:
    """(fg, bg, underline colour, attributes) of a combined SGR parameter string; None if unusual."""
    fg = bg = ul = ""
    attrs: set[str] = set()
    parts = params.split(";") if params else []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("38", "48", "58"):
            if i + 1 < len(parts) and parts[i + 1] == "2" and i + 4 < len(parts):
                val, i = ";".join(parts[i:i + 5]), i + 5
            elif i + 1 < len(parts) and parts[i + 1] == "5" and i + 2 < len(parts):
                val, i = ";".join(parts[i:i + 3]), i + 3
            else:
                return None
            if p == "38":
                fg = val
            elif p == "48":
                bg = val
            else:
                ul = val
            continue
        i += 1
        if p in ("", "0"):
            fg = bg = ul = ""
            attrs.clear()
        elif p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97):
            fg = p
        elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
            bg = p
        elif p == "39":
            fg = ""
        elif p == "49":
            bg = ""
        elif p == "59":
            ul = ""
        elif p in _OFF:
            attrs.add(p)
        elif p in _OFF.values():
            attrs.difference_update(k for k, v in _OFF.items() if v == p)
        else:
            return None
    return fg, bg, ul, frozenset(attrs)


def sgr_delta(real: str, virtual: str) -> str:
    """The shortest SGR sequence taking the terminal from style ``real`` to ``virtual``."""
    full = f"\x1b[0;{virtual}m" if virtual else "\x1b[0m"
    r, v = _parse_sgr(real), _parse_sgr(virtual)
    if r is None or v is None:
        return full
    codes: list[str] = []
    off = {_OFF[a] for a in r[3] - v[3]}
    codes += sorted(off)
    again = v[3] & r[3] & ({"1", "2"} if "22" in off else set())  # 22 also ended these
    codes += sorted((v[3] - r[3]) | again)
    for now, want, reset in ((r[0], v[0], "39"), (r[1], v[1], "49"), (r[2], v[2], "59")):
        if now != want:
            codes.append(want or reset)
    if not codes:
        return ""
    delta = f"\x1b[{';'.join(codes)}m"
    return delta if len(delta) < len(full) else full


class ScreenDiffer:
    def __init__(self) -> None:
        self._rows: list[tuple[list[str | None], list[str | None]]] = []
        # virtual state: where Textual thinks the cursor is, with which style
        self._vx = self._vy = 0
        self._vsgr = ""
        self._vlink = ""
        # real state: what the terminal has; None = unknown
        self._rx: int | None = None
        self._ry: int | None = None
        self._rsgr: str | None = None
        self._rlink = ""
        self._pending = ""  # an escape sequence cut at the end of the previous write
        self.width: int | None = None  # terminal width, so a write in the last column is handled
        self.height: int | None = None
        self._cursor_visible = True
        self.bytes_in = 0
        self.bytes_out = 0

    def invalidate(self) -> None:
        """Forget the screen (resize, alt-screen switch, resume after suspend)."""
        self._rows = []
        self._rx = self._ry = None
        self._rsgr = None

    # -- model: per row, a list of characters and a parallel list of style keys ------------------
    def _row(self, y: int) -> tuple[list[str | None], list[str | None]]:
        rows = self._rows
        while len(rows) <= y:
            rows.append(([], []))
        return rows[y]

    def _forget_from(self, y: int, x: int, whole_screen_below: bool) -> None:
        if y < len(self._rows):
            chars, styles = self._rows[y]
            del chars[x:], styles[x:]
            if whole_screen_below:
                del self._rows[y + 1:]

    # -- output ----------------------------------------------------------------------------------
    def process(self, data: str) -> str:
        self.bytes_in += len(data)
        if self._pending:
            data, self._pending = self._pending + data, ""
        cut = data.rfind("\x1b")
        if cut >= 0 and len(data) - cut < 64 and _ESCAPE.match(data, cut) is None:
            data, self._pending = data[:cut], data[cut:]  # wait for the rest of the sequence
        out: list[str] = []
        emit = out.append
        pos = 0
        for m in _TOKEN.finditer(data):
            if m.start() != pos:  # a lone ESC or similar: pass it through as it is
                emit(data[pos:m.start()])
            pos = m.end()
            tok = m.group(0)
            c0 = tok[0]
            if c0 != "\x1b" and c0 not in "\r\n":
                self._text(tok, emit)
                continue
            if c0 == "\r":
                self._vx = 0
                continue
            if c0 == "\n":
                if self.height is not None and self._vy >= self.height - 1:
                    self._sync_cursor(emit)  # a line feed on the last row scrolls the screen
                    emit("\n")
                    self.invalidate()
                    continue
                self._vy += 1
                continue
            final = m.group(3)
            if final is not None:
                params, inter = m.group(1), m.group(2)
                private = params[:1] in ("?", "<", "=", ">")
                if final == "m" and not inter and not private:
                    self._sgr(params)
                elif final in "Hf" and not inter and not private:
                    parts = params.split(";") if params else []
                    y = int(parts[0]) if parts and parts[0] else 1
                    x = int(parts[1]) if len(parts) > 1 and parts[1] else 1
                    self._vy, self._vx = max(0, y - 1), max(0, x - 1)
                elif final in "ABCDG" and not private and not inter:
                    n = int(params) if params.isdigit() else 1
                    if final == "A":
                        self._vy = max(0, self._vy - n)
                    elif final == "B":
                        self._vy += n
                    elif final == "C":
                        self._vx += n
                    elif final == "D":
                        self._vx = max(0, self._vx - n)
                    else:
                        self._vx = max(0, n - 1)
                elif final in "JK" and not private:
                    self._sync_cursor(emit)
                    self._sync_style(emit)
                    emit(tok)
                    mode = params or "0"
                    if final == "K":
                        if mode == "0":
                            self._forget_from(self._vy, self._vx, False)
                        else:
                            self.invalidate_row(self._vy)
                    elif mode == "0":
                        self._forget_from(self._vy, self._vx, True)
                    else:
                        self.invalidate()
                elif private and final in "hl" and ("1049" in params or "47" in params.split(";")):
                    self._reset_style(emit)  # the other screen (the shell's) starts from plain text
                    emit(tok)
                    self.invalidate()
                elif private or final in "nctu" or (final == "q" and inter):
                    emit(tok)  # modes, queries, cursor shape: no effect on cells
                    if params == "?25" and final in "hl":
                        self._cursor_visible = final == "h"
                else:  # scrolling, insert/delete, anything else: pass and forget
                    self._sync_cursor(emit)
                    emit(tok)
                    self.invalidate()
                continue
            osc = m.group(4)
            if osc is not None:
                if osc.startswith("8;"):
                    self._vlink = "" if osc.endswith(";") else tok
                else:
                    emit(tok)
                continue
            if tok in ("\x1bc",):  # full reset
                self._reset_style(emit)
            emit(tok)  # DCS and other escapes: pass through
            if tok in ("\x1bc",):  # full reset
                self.invalidate()
        if pos < len(data):
            emit(data[pos:])
        if out:
            # leave the cursor where Textual left it (the caret of an input) when it is visible
            if self._cursor_visible:
                self._sync_cursor(emit)
            # the style is left as it is: the next frame's first change often needs the same
            # background, and every write of ours sets what it needs (see sgr_delta)
            if self._rlink:
                emit("\x1b]8;;\x1b\\")
                self._rlink = ""
        elif self._cursor_visible and (self._rx, self._ry) != (self._vx, self._vy):
            self._sync_cursor(emit)
        result = "".join(out)
        self.bytes_out += len(result)
        return result

    def invalidate_row(self, y: int) -> None:
        if y < len(self._rows):
            self._rows[y] = ([], [])

    def _sgr(self, params: str) -> None:
        params = shorten_truecolor(params)
        if params in ("", "0"):
            self._vsgr = ""
        elif params.startswith("0;"):
            self._vsgr = params[2:]
        else:
            self._vsgr = f"{self._vsgr};{params}" if self._vsgr else params

    def _gap(self, x0: int, x1: int) -> str | None:
        """The known characters of cells [x0, x1) of the cursor's row, if they all have the style
        the terminal has now (so writing them changes nothing on screen); else None."""
        if self._ry is None or self._ry >= len(self._rows) or self._rlink:
            return None
        chars, styles = self._rows[self._ry]
        if x1 > len(chars):
            return None
        out = chars[x0:x1]
        if any(c is None or c == "" or len(c) != 1 or not c.isprintable() for c in out):
            return None
        if any(st != self._rsgr for st in styles[x0:x1]) or cell_len("".join(out)) != x1 - x0:
            return None
        return "".join(out)

    def _reset_style(self, emit) -> None:
        if self._rsgr != "":
            emit("\x1b[0m")
            self._rsgr = ""

    def _sync_cursor(self, emit) -> None:
        if self._rx != self._vx or self._ry != self._vy:
            move = f"\x1b[{self._vy + 1};{self._vx + 1}H"
            if self._ry == self._vy and self._rx is not None:  # same row: the shortest relative move
                dx = self._vx - self._rx
                rel = (f"\x1b[{dx}C" if dx > 1 else "\x1b[C") if dx > 0 else (
                    f"\x1b[{-dx}D" if dx < -1 else "\x1b[D")
                cha = f"\x1b[{self._vx + 1}G"
                move = min(move, rel, cha, key=len)
                if 0 < dx < len(move):  # a short hop: resend the cells between if they are cheaper
                    gap = self._gap(self._rx, self._vx)
                    if gap is not None and len(gap.encode()) < len(move):
                        move = gap
            emit(move)
            self._rx, self._ry = self._vx, self._vy
            # a move past the edge is clamped by the terminal: the column is then not what we asked
            if (self.width is not None and self._vx >= self.width) or (
                    self.height is not None and self._vy >= self.height):
                self._rx = self._ry = None

    def _sync_style(self, emit) -> None:
        if self._rsgr != self._vsgr:
            if self._rsgr is None:
                emit(f"\x1b[0;{self._vsgr}m" if self._vsgr else "\x1b[0m")
            else:
                emit(sgr_delta(self._rsgr, self._vsgr))
            self._rsgr = self._vsgr
        if self._rlink != self._vlink:
            emit(self._vlink or "\x1b]8;;\x1b\\")
            self._rlink = self._vlink

    def _put(self, x: int, text: str, emit) -> None:
        """Write ``text`` (single-width characters) at column ``x`` of the current row."""
        self._vx = x
        self._sync_cursor(emit)
        self._sync_style(emit)
        emit(text)
        end = x + len(text)
        self._vx = end
        # in the last column the terminal holds a pending wrap: position unknown until a CUP
        self._rx = end if self.width is None or end < self.width else None

    def _text(self, text: str, emit) -> None:
        chars, styles = self._row(self._vy)
        key = self._vsgr if not self._vlink else f"{self._vsgr}|{self._vlink}"
        x0 = self._vx
        n = len(text)
        if not (text.isascii() or cell_len(text) == n):
            self._text_wide(text, key, chars, styles, emit)
            return
        end = x0 + n
        if len(chars) < end:
            chars.extend([None] * (end - len(chars)))
            styles.extend([None] * (end - len(styles)))
        new = list(text)
        keys = [key] * n
        if chars[x0:end] == new and styles[x0:end] == keys:
            self._vx = end  # nothing changed: send nothing
            return
        # overwriting half of a wide character blanks its other half on the terminal
        if x0 > 0 and chars[x0] == "":
            chars[x0 - 1] = None
        if end < len(chars) and chars[end] == "":
            chars[end] = None
        # send the changed spans; gaps of a few unchanged cells are resent (cheaper than a CUP)
        i = 0
        while i < n:
            if chars[x0 + i] == new[i] and styles[x0 + i] == key:
                i += 1
                continue
            j = i + 1
            last = i
            while j < n:
                if chars[x0 + j] != new[j] or styles[x0 + j] != key:
                    last = j
                elif j - last > 4:
                    break
                j += 1
            self._put(x0 + i, text[i:last + 1], emit)
            i = last + 1
        chars[x0:end] = new
        styles[x0:end] = keys
        self._vx = end

    def _text_wide(self, text: str, key: str, chars: list, styles: list, emit) -> None:
        for ch in text:
            w = get_character_cell_size(ch)
            x = self._vx
            if w == 0:  # combining mark: belongs to the previous cell; repaint that cell
                if x > 0 and x - 1 < len(chars) and chars[x - 1] is not None:
                    chars[x - 1] = (chars[x - 1] or "") + ch
                    self._vx = x - 1
                    self._sync_cursor(emit)
                    self._sync_style(emit)
                    emit(chars[x - 1])
                    self._vx = x
                    self._rx = x
                continue
            if len(chars) < x + w:
                chars.extend([None] * (x + w - len(chars)))
                styles.extend([None] * (x + w - len(styles)))
            same = chars[x] == ch and styles[x] == key
            if w == 2:
                same = same and chars[x + 1] == "" and styles[x + 1] == key
            if same:
                self._vx = x + w
                continue
            if x > 0 and chars[x] == "":
                chars[x - 1] = None
            if x + w < len(chars) and chars[x + w] == "":
                chars[x + w] = None
            chars[x], styles[x] = ch, key
            if w == 2:
                chars[x + 1], styles[x + 1] = "", key
            self._sync_cursor(emit)
            self._sync_style(emit)
            emit(ch)
            self._vx = x + w
            self._rx = x + w if self.width is None or x + w < self.width else None
