import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.FeatureField;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopScoreDocCollector;
import org.apache.lucene.store.FSDirectory;

/**
 * The reference side of scripts/bench-compare: Lucene 8 answering the same sparse vectors that
 * sparrow answers, single-threaded, in the same run.
 *
 *   java LuceneSearch DOCS.tsv QUERIES.tsv INDEX_DIR K
 *
 * Input lines are "id<TAB>term:weight term:weight ..." (term ids as text). Documents become one
 * FeatureField per term (Lucene keeps 9 significant bits of each weight), merged into one segment;
 * a query is a BooleanQuery of FeatureField.newLinearQuery clauses (score = sum of query weight x
 * document weight, the dot product). Two ways of collecting the top K:
 *   exhaustive  every matching document is scored (totalHitsThreshold = Integer.MAX_VALUE);
 *   bmw         block-max WAND: once K hits are collected, blocks whose impacts cannot beat the
 *               K-th score are skipped (totalHitsThreshold = K).
 * Each mode answers every query once to warm up, then once timed. Prints one JSON line per mode:
 * {"mode", "p50Ms", "p99Ms", "meanMs", "results": [[id, ...], ...]}.
 */
public final class LuceneSearch {
  public static void main(String[] args) throws Exception {
    Path docs = Paths.get(args[0]);
    Path queryFile = Paths.get(args[1]);
    Path indexDir = Paths.get(args[2]);
    int k = Integer.parseInt(args[3]);
    IndexWriterConfig config = new IndexWriterConfig(new KeywordAnalyzer());
    config.setRAMBufferSizeMB(512);
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    try (FSDirectory directory = FSDirectory.open(indexDir)) {
      // Documents are streamed: a million of them would not fit the heap as parsed lines.
      try (IndexWriter writer = new IndexWriter(directory, config);
          BufferedReader reader = new BufferedReader(new InputStreamReader(new FileInputStream(docs.toFile()), StandardCharsets.UTF_8), 1 << 20)) {
        String text;
        while ((text = reader.readLine()) != null) {
          if (text.isBlank()) continue;
          String[] line = text.split("[\t ]+");
          Document document = new Document();
          document.add(new StoredField("id", line[0]));
          for (int i = 1; i < line.length; i++) {
            int colon = line[i].indexOf(':');
            float weight = Float.parseFloat(line[i].substring(colon + 1));
            // FeatureField needs a positive, normal float.
            if (weight > 0) document.add(new FeatureField("vector", line[i].substring(0, colon), Math.max(weight, Float.MIN_NORMAL)));
          }
          writer.addDocument(document);
        }
        writer.forceMerge(1);
        writer.commit();
      }
      List<Query> queries = new ArrayList<>();
      for (String[] line : readLines(queryFile)) {
        BooleanQuery.Builder builder = new BooleanQuery.Builder();
        for (int i = 1; i < line.length; i++) {
          int colon = line[i].indexOf(':');
          float weight = Float.parseFloat(line[i].substring(colon + 1));
          if (weight > 0) builder.add(FeatureField.newLinearQuery("vector", line[i].substring(0, colon), weight), BooleanClause.Occur.SHOULD);
        }
        queries.add(builder.build());
      }
      try (DirectoryReader reader = DirectoryReader.open(directory)) {
        IndexSearcher searcher = new IndexSearcher(reader);
        searcher.setQueryCache(null);
        for (String mode : new String[] {"exhaustive", "bmw"}) {
          int threshold = mode.equals("bmw") ? k : Integer.MAX_VALUE;
          for (Query query : queries) run(searcher, query, k, threshold);
          double[] millis = new double[queries.size()];
          TopDocs[] found = new TopDocs[queries.size()];
          for (int q = 0; q < queries.size(); q++) {
            long started = System.nanoTime();
            found[q] = run(searcher, queries.get(q), k, threshold);
            millis[q] = (System.nanoTime() - started) / 1e6;
          }
          StringBuilder out = new StringBuilder();
          double total = 0;
          for (double m : millis) total += m;
          double[] sorted = millis.clone();
          Arrays.sort(sorted);
          out.append("{\"mode\": \"").append(mode).append("\", \"p50Ms\": ").append(at(sorted, 0.5))
              .append(", \"p99Ms\": ").append(at(sorted, 0.99)).append(", \"meanMs\": ").append(total / Math.max(1, millis.length))
              .append(", \"results\": [");
          for (int q = 0; q < found.length; q++) {
            if (q > 0) out.append(',');
            out.append('[');
            ScoreDoc[] hits = found[q].scoreDocs;
            for (int i = 0; i < hits.length; i++) {
              if (i > 0) out.append(',');
              out.append('"').append(searcher.doc(hits[i].doc).get("id")).append('"');
            }
            out.append(']');
          }
          out.append("]}");
          System.out.println(out);
        }
      }
    }
  }

  private static TopDocs run(IndexSearcher searcher, Query query, int k, int threshold) throws Exception {
    TopScoreDocCollector collector = TopScoreDocCollector.create(k, threshold);
    searcher.search(query, collector);
    return collector.topDocs();
  }

  private static double at(double[] sorted, double quantile) {
    if (sorted.length == 0) return Double.NaN;
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(quantile * sorted.length))];
  }

  private static List<String[]> readLines(Path file) throws Exception {
    List<String[]> lines = new ArrayList<>();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(new FileInputStream(file.toFile()), StandardCharsets.UTF_8), 1 << 20)) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.isBlank()) continue;
        lines.add(line.split("[\t ]+"));
      }
    }
    return lines;
  }
}
