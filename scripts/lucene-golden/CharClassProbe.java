import java.io.IOException;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.analysis.tokenattributes.OffsetAttribute;

/**
 * Observes how Lucene's StandardTokenizer treats every code point.
 *
 * Each code point X is placed into a fixed set of short probe templates (X next to letters, digits,
 * Hebrew, Katakana, Thai, emoji, punctuation, joiners ...). The token boundaries Lucene produces for all
 * probes form the code point's "signature"; code points with equal signatures behave alike in every
 * probed context. The output (JSON on stdout) lists the templates, the distinct signatures and the code
 * point ranges of each; build-char-classes.ts turns it into the tokenizer's character class table.
 *
 * Token boundaries are written as code point indexes into the probe string, so that BMP and
 * supplementary code points yield comparable signatures.
 */
public final class CharClassProbe {
  /** "X" marks where the probed code point goes; no template contains a literal X otherwise. */
  static final String[] TEMPLATES = {
    "X", "XX", "XXX", " X ",
    "aX", "Xa", "aXa", "aXXa", "1X1", "X1", "1X", "1XX1",
    "\u05D0X", "\u05D0X\u05D0", "X'", "X\"\u05D0", "X'a",
    "\u30A2X\u30A2", "X\u30A2", "\u30A2X",
    "\u0E01X", "X\u0E01",
    "X,1", "X.a", "X.1", "a'X", "1.X", "a.X",
    "X\u200D\uD83D\uDE00", "\uD83D\uDE00\u200DX", "\u200DX", "X\u200D",
    "\uD83D\uDC66X", "X\uD83C\uDFFB", "\uD83C\uDFFBX",
    "X\uFE0E", "X\uFE0F", "X\uFE0F\u20E3", "X\u20E3",
    "_X", "X_", "_X_",
    "\u4E2DX", "X\u4E2D", "X\u0301a", "X\u0301",
    "\uD83C\uDDE6X", "X\uD83C\uDDE6",
    "X\uDB40\uDC67\uDB40\uDC7F", "\uD83C\uDFF4X\uDB40\uDC7F",
    "\uD83D\uDE00X", "\uD83D\uDE00X\uD83D\uDE00",
    "#X", "#\uFE0FX", "*X\u20E3", "\u05D0\"X",
    "\uD83C\uDFF4\uFE0FX\uDB40\uDC7F", "\uD83C\uDFF4\uFE0F\uDB40\uDC67X",
  };

  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    StandardTokenizer tokenizer = new StandardTokenizer();
    OffsetAttribute offsets = tokenizer.addAttribute(OffsetAttribute.class);

    Map<String, Integer> signatureIds = new HashMap<>();
    List<String> signatures = new ArrayList<>();
    List<int[]> ranges = new ArrayList<>();
    int rangeStart = 0;
    int rangeSignature = -1;

    StringBuilder signature = new StringBuilder();
    for (int cp = 0; cp <= 0x10FFFF; cp++) {
      String probed = new String(Character.toChars(cp));
      signature.setLength(0);
      signature.append('[');
      for (int t = 0; t < TEMPLATES.length; t++) {
        String probe = TEMPLATES[t].replace("X", probed);
        tokenizer.setReader(new StringReader(probe));
        tokenizer.reset();
        if (t > 0) signature.append(',');
        signature.append('[');
        boolean first = true;
        while (tokenizer.incrementToken()) {
          if (!first) signature.append(',');
          first = false;
          signature.append(probe.codePointCount(0, offsets.startOffset())).append(',')
                   .append(probe.codePointCount(0, offsets.endOffset()));
        }
        signature.append(']');
        tokenizer.end();
        tokenizer.close();
      }
      signature.append(']');
      String key = signature.toString();
      Integer id = signatureIds.get(key);
      if (id == null) {
        id = signatures.size();
        signatureIds.put(key, id);
        signatures.add(key);
      }
      if (id != rangeSignature) {
        if (rangeSignature >= 0) ranges.add(new int[] {rangeStart, cp - 1, rangeSignature});
        rangeStart = cp;
        rangeSignature = id;
      }
    }
    ranges.add(new int[] {rangeStart, 0x10FFFF, rangeSignature});

    out.print("{\"templates\":[");
    for (int t = 0; t < TEMPLATES.length; t++) {
      if (t > 0) out.print(',');
      out.print(jsonString(TEMPLATES[t]));
    }
    out.print("],\n\"signatures\":[\n");
    for (int s = 0; s < signatures.size(); s++) {
      if (s > 0) out.print(",\n");
      out.print(signatures.get(s));
    }
    out.print("],\n\"ranges\":[\n");
    for (int r = 0; r < ranges.size(); r++) {
      if (r > 0) out.print(",\n");
      int[] range = ranges.get(r);
      out.print("[" + range[0] + "," + range[1] + "," + range[2] + "]");
    }
    out.print("]}\n");
    out.flush();
  }

  static String jsonString(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c >= 0x20 && c < 0x7F) b.append(c);
      else b.append(String.format("\\u%04x", (int) c));
    }
    return b.append('"').toString();
  }
}
