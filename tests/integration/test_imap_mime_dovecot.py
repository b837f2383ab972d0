#!/usr/bin/env python3
"""test_imap_mime_dovecot.py - dirmail's IMAP MIME answers compared with
Dovecot's (Debian dovecot-imapd, run from a temporary folder): the messages
of tests/fixtures/mime (nested multiparts, message/rfc822 parts, missing
and absent boundaries, bad charsets, 8-bit headers, RFC 2231 parameters,
empty bodies, no trailing newline, a digest) are APPENDed with imaplib to
both, then FETCH ENVELOPE, BODYSTRUCTURE, BODY, RFC822.SIZE, BODY[section]
<partial> for every section form, BINARY and SEARCH are compared as parsed
IMAP values. Where Dovecot and the RFC disagree dirmail follows the RFC and
the difference is listed in EXPECTED with the reason; an expected
difference that is no longer one fails too, so the list stays true."""
import glob
import imaplib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import dovecot  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.imap_pair import ImapPair  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "mime")
DATE = '"07-Dec-2026 10:00:00 +0000"'

ITEMS = ["ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE",
         "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
         "BODY.PEEK[HEADER.FIELDS (Subject From)]", "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]",
         "BODY.PEEK[]<0.20>", "BODY.PEEK[TEXT]<3.7>"]
PARTS = ["1", "1.MIME", "2", "2.MIME", "1.1", "1.2", "1.1.MIME", "1.2.MIME", "2.1", "2.2",
         "2.1.MIME", "2.HEADER", "2.TEXT", "2.HEADER.FIELDS (Subject)", "2.2.1", "3",
         "1.HEADER", "1.TEXT", "1.1.HEADER"]
PARTIAL = ["1]<2.5>", "2.TEXT]<0.9>", "2]<1000.5>"]
BINARY = ["1", "2", "2.1", "2.2"]

SEARCHES = [
    'SUBJECT "caf\u00e9"', 'SUBJECT "CAFÉ CRÈME"', "SUBJECT résumé", "SUBJECT Grüße",
    'SUBJECT "you understand"', "FROM keld", "FROM andré", 'FROM "Jörg"', "TO zoë",
    "BODY café", "BODY résumé", 'BODY "fr\u00fchst\u00fcck"', "BODY grüße", "BODY original",
    "TEXT résumé", "TEXT secretary", "BODY \"soft break\"", 'HEADER X-Tag ""', "HEADER X-Tag WORLD",
    "CC dave", "NOT BODY plain", "OR SUBJECT digest BODY wrapped", "BODY \"digest body two\"",
    "TEXT \"Original Author\"", "BODY \"Original Author\"", "BODY strange",
]

# (fixture, item) -> why dirmail's answer differs from Dovecot's and follows
# the RFC instead; the item is compared and must differ.
EXPECTED = {
    ("01-simple.eml", "ENVELOPE"):
        "RFC 3501 7.4.2: a group is a start marker, its members and an end marker; the "
        "empty group undisclosed-recipients:; is kept as two markers, Dovecot drops it",
    ("09-rfc2231.eml", "BODYSTRUCTURE"):
        "RFC 9051 7.5.2: servers SHOULD decode RFC 2231 continuations and charsets; "
        "Dovecot 2.3 passes title*0*, title*1* ... joined but undecoded",
    ("09-rfc2231.eml", "BODY"): "the same RFC 2231 decoding as in BODYSTRUCTURE",
    ("11-header-only.eml", "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]"):
        "RFC 3501 6.4.5: the HEADER.FIELDS subset includes the blank line; Dovecot "
        "leaves it out when the message has no blank line",
    ("SEARCH", "BODY grüße"):
        "a text part in an unknown charset (x-unknown-charset) is read as Latin-1 where "
        "it is no UTF-8, as mail readers show it; Dovecot matches no text in it",
    ("SEARCH", 'BODY "Original Author"'):
        "RFC 3501 6.4.4: BODY is the message's body, and the header of a message/rfc822 "
        "part is in it; Dovecot searches only the text parts for BODY (TEXT finds it)",
    ("SEARCH", "NOT BODY plain"):
        "the same: message 14's body is a whole message whose header says text/plain",
    ("SEARCH", "BODY résumé"): "as BODY \"Original Author\": an attached message's Subject",
    ("03-nested.eml", "BINARY.SIZE[1]"):
        "RFC 3516 4.2: BINARY.SIZE is the size BINARY would send; Dovecot says 112 "
        "where its own BINARY[1] sends 121 octets (both send the same 121)",
    ("04-rfc822.eml", "BINARY.SIZE[2]"):
        "RFC 3516 4: a message/rfc822 part has no encoding to remove; Dovecot decodes "
        "the base64 image inside and rewrites its header to binary",
    ("04-rfc822.eml", "BINARY.PEEK[2]"): "as BINARY.SIZE[2]",
}


def tokens(raw):
    """An IMAP response (literals inline) as nested lists of bytes/None."""
    pos = 0

    def value():
        nonlocal pos
        while raw[pos:pos + 1] == b" ":
            pos += 1
        c = raw[pos:pos + 1]
        if c == b"(":
            pos += 1
            out = []
            while True:
                while raw[pos:pos + 1] == b" ":
                    pos += 1
                if raw[pos:pos + 1] == b")":
                    pos += 1
                    return out
                out.append(value())
        if c == b'"':
            pos += 1
            out = b""
            while raw[pos:pos + 1] != b'"':
                if raw[pos:pos + 1] == b"\\":
                    pos += 1
                out += raw[pos:pos + 1]
                pos += 1
            pos += 1
            return out
        m = re.match(rb"~?\{(\d+)\}\r\n", raw[pos:])
        if m:
            pos += m.end()
            n = int(m.group(1))
            out = raw[pos:pos + n]
            pos += n
            return out
        start = pos
        depth = 0
        while pos < len(raw):
            ch = raw[pos:pos + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b")", b"("):
                break
            pos += 1
        atom = raw[start:pos]
        return None if atom.upper() == b"NIL" else atom

    return value()


def reassemble(data):
    """imaplib's FETCH data back into the bytes the server sent."""
    out = b""
    for d in data:
        if isinstance(d, tuple):
            out += d[0] + b"\r\n" + d[1]
        elif d is not None:
            out += d
    return out


def fetch(m, seq, item):
    """One FETCH item of message seq: its value, or the tagged refusal."""
    try:
        typ, data = m.fetch(str(seq), "(" + item + ")")
    except imaplib.IMAP4.error as e:
        return ("ERROR", str(e).split("]")[0])
    if typ != "OK":
        return ("NO", data)
    raw = reassemble(data)
    if not raw:
        return ("NONE",)
    seqno, rest = raw.split(b" ", 1)
    parsed = tokens(rest)
    items = {}
    for i in range(0, len(parsed) - 1, 2):
        items[parsed[i].upper()] = parsed[i + 1]
    return items


def search(m, key):
    """SEARCH CHARSET UTF-8 key; a non-ASCII string (the key's last word)
    goes as a literal, as RFC 3501 4.3 asks of 8-bit strings."""
    if key.isascii():
        return m.search("UTF-8", key)
    prefix, value = key.rsplit(" ", 1) if not key.endswith('"') else key[:-1].rsplit(' "', 1)
    m.literal = value.strip('"').encode()
    return m.search("UTF-8", prefix)


def response_key(item):
    key = item.upper().replace(".PEEK", "")
    key = re.sub(r"<(\d+)\.\d+>", r"<\1>", key)
    return key.encode()


@unittest.skipUnless(built(), "dirmaild not built")
@unittest.skipUnless(dovecot.available(), "Dovecot (dovecot-imapd) is not installed: "
                     "apt-get install dovecot-imapd to compare with it")
class MimeAgainstDovecot(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.files = sorted(glob.glob(os.path.join(FIXTURES, "*.eml")))
        messages = []
        for path in cls.files:
            with open(path, "rb") as f:
                messages.append((f.read(), DATE))
        cls.pair = ImapPair("imap-mime-dovecot", messages)
        cls.ours, cls.theirs = cls.pair.both()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    def compare(self, item, key=None):
        key = key or response_key(item)
        problems = []
        for seq, path in enumerate(self.files, 1):
            name = os.path.basename(path)
            ours = fetch(self.ours, seq, item)
            theirs = fetch(self.theirs, seq, item)
            a = ours.get(key) if isinstance(ours, dict) else ours
            b = theirs.get(key) if isinstance(theirs, dict) else theirs
            why = EXPECTED.get((name, item))
            if why is not None:
                if a == b:
                    problems.append(f"{name} {item}: listed as an expected difference "
                                    f"({why}) but both say {a!r}")
            elif a != b:
                problems.append(f"{name} {item}:\n  dirmail {a!r}\n  dovecot {b!r}")
        return problems

    def test_fetch_descriptions_and_sections(self):
        problems = []
        for item in ITEMS:
            problems += self.compare(item)
        for part in PARTS:
            problems += self.compare("BODY.PEEK[" + part + "]")
        for p in PARTIAL:
            problems += self.compare("BODY.PEEK[" + p)
        self.assertEqual(problems, [], "\n".join(problems))

    def test_binary(self):
        problems = []
        for part in BINARY:
            problems += self.compare("BINARY.PEEK[" + part + "]")
            problems += self.compare("BINARY.SIZE[" + part + "]")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_search_decoded(self):
        problems = []
        for key in SEARCHES:
            results = []
            for m in (self.ours, self.theirs):
                results.append(search(m, key))
            why = EXPECTED.get(("SEARCH", key))
            if why is not None:
                if results[0] == results[1]:
                    problems.append(f"SEARCH {key}: expected to differ ({why})")
            elif results[0] != results[1]:
                problems.append(f"SEARCH {key}: dirmail {results[0]} dovecot {results[1]}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_search_other_charset_is_badcharset(self):
        typ, data = self.ours._simple_command("SEARCH", "CHARSET", "KOI8-R", "ALL")
        self.assertEqual(typ, "NO")
        self.assertRegex(data[-1], rb"^\[BADCHARSET \(US-ASCII UTF-8\)\]")


if __name__ == "__main__":
    harness.tap.main()
