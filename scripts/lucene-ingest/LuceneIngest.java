import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.FeatureField;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.store.FSDirectory;

/**
 * The reference side of scripts/bench-ingest: Lucene 8 indexing the same input single-threaded
 * (one indexing thread, serial merges), timed from the first line read to the commit.
 *
 *   java LuceneIngest vectors FILE.jsonl INDEX_DIR   {"id", "vector": {"token": weight}}: one FeatureField per token
 *   java LuceneIngest text CORPUS.jsonl INDEX_DIR    BEIR {"_id", "title", "text"}: EnglishAnalyzer over title + text
 *
 * Prints one JSON line: {"docs": N, "ms": M}.
 */
public final class LuceneIngest {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    Path input = Paths.get(args[1]);
    Path indexDir = Paths.get(args[2]);
    long started = System.nanoTime();
    IndexWriterConfig config = new IndexWriterConfig(new EnglishAnalyzer());
    config.setRAMBufferSizeMB(256);
    config.setMergeScheduler(new SerialMergeScheduler());
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    int docs = 0;
    try (FSDirectory directory = FSDirectory.open(indexDir);
        IndexWriter writer = new IndexWriter(directory, config);
        BufferedReader reader = new BufferedReader(new InputStreamReader(new FileInputStream(input.toFile()), StandardCharsets.UTF_8), 1 << 20)) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonLine json = new JsonLine(line);
        Document document = new Document();
        if (mode.equals("vectors")) json.readVectorDocument(document);
        else json.readTextDocument(document);
        writer.addDocument(document);
        docs++;
      }
      writer.commit();
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    System.out.println("{\"docs\": " + docs + ", \"ms\": " + ms + "}");
  }

  /** Just enough JSON for these two layouts: objects, strings with escapes, numbers. */
  static final class JsonLine {
    private final String text;
    private int at;

    JsonLine(String text) {
      this.text = text;
    }

    void readVectorDocument(Document document) {
      expect('{');
      while (true) {
        String key = string();
        expect(':');
        if (key.equals("vector")) {
          expect('{');
          space();
          if (peek() != '}') {
            while (true) {
              String token = string();
              expect(':');
              float weight = (float) number();
              // FeatureField keeps 9 significant bits and needs a positive, normal float.
              if (weight > 0) document.add(new FeatureField("vector", token, Math.max(weight, Float.MIN_NORMAL)));
              if (!comma()) break;
            }
          }
          expect('}');
        } else if (key.equals("id") || key.equals("_id")) {
          space();
          String id = peek() == '"' ? string() : Double.toString(number());
          document.add(new StringField("id", id, Field.Store.YES));
        } else {
          skipValue();
        }
        if (!comma()) break;
      }
      expect('}');
    }

    void readTextDocument(Document document) {
      expect('{');
      String title = "";
      String body = "";
      while (true) {
        String key = string();
        expect(':');
        space();
        if (key.equals("_id") || key.equals("id")) document.add(new StringField("id", peek() == '"' ? string() : Double.toString(number()), Field.Store.YES));
        else if (key.equals("title")) title = string();
        else if (key.equals("text")) body = string();
        else skipValue();
        if (!comma()) break;
      }
      expect('}');
      document.add(new TextField("contents", title + " " + body, Field.Store.NO));
    }

    private void space() {
      while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
    }

    private char peek() {
      return text.charAt(at);
    }

    private void expect(char c) {
      space();
      if (text.charAt(at) != c) throw new IllegalArgumentException("expected " + c + " at " + at);
      at++;
    }

    private boolean comma() {
      space();
      if (at < text.length() && text.charAt(at) == ',') {
        at++;
        return true;
      }
      return false;
    }

    private String string() {
      expect('"');
      StringBuilder out = new StringBuilder();
      while (true) {
        char c = text.charAt(at++);
        if (c == '"') return out.toString();
        if (c != '\\') {
          out.append(c);
          continue;
        }
        char e = text.charAt(at++);
        switch (e) {
          case 'n': out.append('\n'); break;
          case 't': out.append('\t'); break;
          case 'r': out.append('\r'); break;
          case 'b': out.append('\b'); break;
          case 'f': out.append('\f'); break;
          case 'u': out.append((char) Integer.parseInt(text.substring(at, at + 4), 16)); at += 4; break;
          default: out.append(e);
        }
      }
    }

    private double number() {
      space();
      int start = at;
      while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
      return Double.parseDouble(text.substring(start, at));
    }

    private void skipValue() {
      space();
      char c = peek();
      if (c == '"') {
        string();
        return;
      }
      if (c == '{' || c == '[') {
        int depth = 0;
        do {
          char d = text.charAt(at);
          if (d == '"') {
            string();
            continue;
          }
          at++;
          if (d == '{' || d == '[') depth++;
          else if (d == '}' || d == ']') depth--;
        } while (depth > 0);
        return;
      }
      while (at < text.length() && ",}] \t".indexOf(text.charAt(at)) < 0) at++;
    }
  }
}
