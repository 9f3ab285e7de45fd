// Made the known vectors of tests/unit/load_hdr_log_test.cpp with HdrHistogram's Java library (once;
// javac -cp /usr/share/java/hdrhistogram.jar HdrKnownVector.java && java -cp /usr/share/java/hdrhistogram.jar:. HdrKnownVector).
import org.HdrHistogram.*;
import java.nio.ByteBuffer;
import java.util.Base64;
public class HdrKnownVector {
  public static void main(String[] a) {
    Histogram h = new Histogram(1, (1L << 40) - 1, 3);
    long[] values = {0, 1, 2, 3, 3, 3, 1000, 2047, 2048, 2049, 2049, 2050, 4095, 4096, 100000, 12345678, 1099511627775L};
    for (long v : values) h.recordValue(v);
    h.recordValueWithCount(777, 1000000);
    ByteBuffer plain = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
    int n = h.encodeIntoByteBuffer(plain);
    byte[] p = new byte[n]; plain.rewind(); plain.get(p);
    ByteBuffer comp = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
    int m = h.encodeIntoCompressedByteBuffer(comp);
    byte[] c = new byte[m]; comp.rewind(); comp.get(c);
    System.out.println("plain " + Base64.getEncoder().encodeToString(p));
    System.out.println("compressed " + Base64.getEncoder().encodeToString(c));
    System.out.println("count " + h.getTotalCount() + " p50 " + h.getValueAtPercentile(50) + " p99 " + h.getValueAtPercentile(99.99999) + " max " + h.getMaxValue());
  }
}
