import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.StopFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * Writes golden expectations for sparrow's analysis code from Lucene 8's real analyzers.
 *
 *   cases  INPUTS OUT            each input line (a JSON string literal; blank and '#' lines skipped)
 *                                -> {"input", "standard": StandardTokenizer terms, "english": EnglishAnalyzer terms}
 *   porter CORPUS EXTRA OUT N    N evenly spaced distinct SciFact terms (after possessive, lower-case and stop
 *                                filtering) plus the words of EXTRA -> "word TAB stem" (PorterStemFilter)
 *   corpus CORPUS OUT STEP       every STEP-th SciFact document (title + " " + text)
 *                                -> {"id", "terms": EnglishAnalyzer terms joined by single spaces}
 */
public final class GoldenAnalyzer {
  public static void main(String[] args) throws IOException {
    if (args.length == 0) usage();
    switch (args[0]) {
      case "cases":
        if (args.length != 3) usage();
        cases(Paths.get(args[1]), Paths.get(args[2]));
        break;
      case "porter":
        if (args.length != 5) usage();
        porter(Paths.get(args[1]), Paths.get(args[2]), Paths.get(args[3]), Integer.parseInt(args[4]));
        break;
      case "corpus":
        if (args.length != 4) usage();
        corpus(Paths.get(args[1]), Paths.get(args[2]), Integer.parseInt(args[3]));
        break;
      default:
        usage();
    }
  }

  static void usage() {
    System.err.println("usage: GoldenAnalyzer cases INPUTS OUT | porter CORPUS EXTRA OUT N | corpus CORPUS OUT STEP");
    System.exit(2);
  }

  static void cases(Path inputs, Path out) throws IOException {
    Analyzer english = new EnglishAnalyzer();
    StandardTokenizer standard = new StandardTokenizer();
    try (BufferedReader reader = Files.newBufferedReader(inputs, StandardCharsets.UTF_8);
         BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      String line;
      int lineNumber = 0;
      while ((line = reader.readLine()) != null) {
        lineNumber++;
        String trimmed = line.trim();
        if (trimmed.isEmpty() || trimmed.startsWith("#")) continue;
        String input;
        try {
          Json parser = new Json(trimmed);
          input = (String) parser.value();
          parser.end();
        } catch (RuntimeException e) {
          throw new IOException(inputs + ":" + lineNumber + ": not a JSON string literal: " + e.getMessage());
        }
        writer.write("{\"input\":" + jsonString(input)
            + ",\"standard\":" + jsonArray(terms(standard, input))
            + ",\"english\":" + jsonArray(terms(english, input)) + "}\n");
      }
    }
  }

  static void porter(Path corpus, Path extra, Path out, int sampleSize) throws IOException {
    Analyzer unstemmed = new Analyzer() {
      @Override
      protected TokenStreamComponents createComponents(String fieldName) {
        Tokenizer source = new StandardTokenizer();
        TokenStream result = new EnglishPossessiveFilter(source);
        result = new LowerCaseFilter(result);
        result = new StopFilter(result, EnglishAnalyzer.ENGLISH_STOP_WORDS_SET);
        return new TokenStreamComponents(source, result);
      }
    };
    TreeSet<String> distinct = new TreeSet<>();
    for (Map<String, Object> doc : readCorpus(corpus)) distinct.addAll(terms(unstemmed, documentText(doc)));
    List<String> all = new ArrayList<>(distinct);
    TreeSet<String> words = new TreeSet<>();
    int n = Math.min(sampleSize, all.size());
    for (int i = 0; i < n; i++) words.add(all.get((int) ((long) i * all.size() / n)));
    for (String word : Files.readAllLines(extra, StandardCharsets.UTF_8)) {
      String w = word.trim();
      if (!w.isEmpty() && !w.startsWith("#")) words.add(w);
    }

    Analyzer stemmer = new Analyzer() {
      @Override
      protected TokenStreamComponents createComponents(String fieldName) {
        Tokenizer source = new KeywordTokenizer();
        return new TokenStreamComponents(source, new PorterStemFilter(source));
      }
    };
    try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      for (String word : words) {
        List<String> stem = terms(stemmer, word);
        if (stem.size() != 1) throw new IOException("keyword tokenizer split " + word);
        writer.write(word + "\t" + stem.get(0) + "\n");
      }
    }
    System.err.println("porter: " + all.size() + " distinct corpus terms, " + words.size() + " words written");
  }

  static void corpus(Path corpus, Path out, int step) throws IOException {
    Analyzer english = new EnglishAnalyzer();
    List<Map<String, Object>> docs = readCorpus(corpus);
    int written = 0;
    try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      for (int i = 0; i < docs.size(); i += step) {
        Map<String, Object> doc = docs.get(i);
        List<String> terms = terms(english, documentText(doc));
        for (String term : terms) {
          if (term.indexOf(' ') >= 0) throw new IOException("term with a space in doc " + doc.get("_id"));
        }
        writer.write("{\"id\":" + jsonString((String) doc.get("_id")) + ",\"terms\":" + jsonString(String.join(" ", terms)) + "}\n");
        written++;
      }
    }
    System.err.println("corpus: " + written + " of " + docs.size() + " documents written");
  }

  static String documentText(Map<String, Object> doc) {
    Object title = doc.get("title");
    Object text = doc.get("text");
    return (title == null ? "" : (String) title) + " " + (text == null ? "" : (String) text);
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> readCorpus(Path corpus) throws IOException {
    List<Map<String, Object>> docs = new ArrayList<>();
    try (BufferedReader reader = Files.newBufferedReader(corpus, StandardCharsets.UTF_8)) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.trim().isEmpty()) continue;
        docs.add((Map<String, Object>) new Json(line).value());
      }
    }
    return docs;
  }

  static List<String> terms(Analyzer analyzer, String text) throws IOException {
    List<String> terms = new ArrayList<>();
    try (TokenStream stream = analyzer.tokenStream("body", text)) {
      CharTermAttribute term = stream.addAttribute(CharTermAttribute.class);
      stream.reset();
      while (stream.incrementToken()) terms.add(term.toString());
      stream.end();
    }
    return terms;
  }

  static List<String> terms(Tokenizer tokenizer, String text) throws IOException {
    List<String> terms = new ArrayList<>();
    CharTermAttribute term = tokenizer.addAttribute(CharTermAttribute.class);
    tokenizer.setReader(new StringReader(text));
    tokenizer.reset();
    while (tokenizer.incrementToken()) terms.add(term.toString());
    tokenizer.end();
    tokenizer.close();
    return terms;
  }

  static String jsonArray(List<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) b.append(',');
      b.append(jsonString(values.get(i)));
    }
    return b.append(']').toString();
  }

  /** JSON string; control chars, lone surrogates and U+2028/2029 are escaped, other text stays literal. */
  static String jsonString(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean pairedHigh = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
      boolean pairedLow = Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c == '\n') b.append("\\n");
      else if (c == '\t') b.append("\\t");
      else if (c == '\r') b.append("\\r");
      else if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029
          || (Character.isSurrogate(c) && !pairedHigh && !pairedLow)) {
        b.append(String.format("\\u%04x", (int) c));
      } else b.append(c);
    }
    return b.append('"').toString();
  }

  /** Minimal JSON reader (objects, arrays, strings, numbers, literals) for the inputs and the corpus. */
  static final class Json {
    private final String s;
    private int i;

    Json(String s) { this.s = s; }

    void end() {
      skipSpace();
      if (i != s.length()) throw new IllegalArgumentException("trailing characters at " + i);
    }

    Object value() {
      skipSpace();
      if (i >= s.length()) throw new IllegalArgumentException("unexpected end");
      char c = s.charAt(i);
      switch (c) {
        case '{': return object();
        case '[': return array();
        case '"': return string();
        case 't': literal("true"); return Boolean.TRUE;
        case 'f': literal("false"); return Boolean.FALSE;
        case 'n': literal("null"); return null;
        default: return number();
      }
    }

    private Map<String, Object> object() {
      Map<String, Object> map = new LinkedHashMap<>();
      i++;
      skipSpace();
      if (s.charAt(i) == '}') { i++; return map; }
      for (;;) {
        skipSpace();
        String key = string();
        skipSpace();
        expect(':');
        map.put(key, value());
        skipSpace();
        if (s.charAt(i) == ',') { i++; continue; }
        expect('}');
        return map;
      }
    }

    private List<Object> array() {
      List<Object> list = new ArrayList<>();
      i++;
      skipSpace();
      if (s.charAt(i) == ']') { i++; return list; }
      for (;;) {
        list.add(value());
        skipSpace();
        if (s.charAt(i) == ',') { i++; continue; }
        expect(']');
        return list;
      }
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      for (;;) {
        char c = s.charAt(i++);
        if (c == '"') return b.toString();
        if (c != '\\') { b.append(c); continue; }
        char e = s.charAt(i++);
        switch (e) {
          case '"': case '\\': case '/': b.append(e); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
          default: throw new IllegalArgumentException("bad escape \\" + e);
        }
      }
    }

    private Double number() {
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
      if (start == i) throw new IllegalArgumentException("unexpected '" + s.charAt(i) + "' at " + i);
      return Double.valueOf(s.substring(start, i));
    }

    private void literal(String word) {
      if (!s.startsWith(word, i)) throw new IllegalArgumentException("bad literal at " + i);
      i += word.length();
    }

    private void expect(char c) {
      if (i >= s.length() || s.charAt(i) != c) throw new IllegalArgumentException("expected '" + c + "' at " + i);
      i++;
    }

    private void skipSpace() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }
  }
}
