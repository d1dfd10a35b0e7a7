import org.apache.lucene.util.SmallFloat;

/**
 * Prints Lucene's one-byte length norms and BM25 per-norm factors as JSON, for sparrow's tests:
 * the length -> byte encoding for a spread of lengths, the byte -> length table, and
 * BM25Similarity's cached 1 / (k1 * (1 - b + b * len / avgdl)) for a few avgdl values.
 */
public class Bm25Golden {
  public static void main(String[] args) {
    StringBuilder out = new StringBuilder("{\n  \"lengthToByte\": [");
    int[] lengths = new int[400];
    int n = 0;
    for (int i = 0; i < 200; i++) lengths[n++] = i;
    long x = 200;
    while (n < lengths.length && x < Integer.MAX_VALUE) { lengths[n++] = (int) x; x = x * 107 / 100 + 1; }
    for (int i = 0; i < n; i++) {
      if (i > 0) out.append(", ");
      out.append("[").append(lengths[i]).append(", ").append(Byte.toUnsignedInt(SmallFloat.intToByte4(lengths[i]))).append("]");
    }
    out.append("],\n  \"byteToLength\": [");
    for (int i = 0; i < 256; i++) {
      if (i > 0) out.append(", ");
      out.append(SmallFloat.byte4ToInt((byte) i));
    }
    out.append("],\n  \"normInverse\": [");
    float[][] settings = { {0.9f, 0.4f, 213.63f}, {1.2f, 0.75f, 57.5f}, {0.9f, 0.4f, 1.0f} };
    for (int s = 0; s < settings.length; s++) {
      float k1 = settings[s][0], b = settings[s][1], avgdl = settings[s][2];
      if (s > 0) out.append(", ");
      out.append("{\"k1\": ").append(k1).append(", \"b\": ").append(b).append(", \"avgdl\": ").append(avgdl).append(", \"table\": [");
      for (int i = 0; i < 256; i++) {
        // Same float arithmetic as BM25Similarity.scorer builds its cache.
        float value = 1f / (k1 * ((1 - b) + b * (float) SmallFloat.byte4ToInt((byte) i) / avgdl));
        if (i > 0) out.append(", ");
        out.append(Float.floatToIntBits(value));
      }
      out.append("]}");
    }
    out.append("]\n}\n");
    System.out.print(out);
  }
}
