// Writes java_hash_order.txt: "<entries put and cleared before>|<tables in insertion order>|<HashMap iteration order>"
// per line, from a fixed seed. Run: java JavaHashOrder.java > java_hash_order.txt
import java.util.*;
public class JavaHashOrder {
    public static void main(String[] a) {
        Random r = new Random(42);
        String[] schemas = {"diff", "public", "inventory", "s1", "Mixed Case", "app_db", "x"};
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            HashMap<String, Long> m = new HashMap<>();
            int prior = r.nextInt(4) == 0 ? r.nextInt(60) : 0;
            for (int k = 0; k < prior; k++) m.put("p" + k, 1L);
            m.clear();
            int n = 1 + r.nextInt(i < 200 ? 12 : 40);
            List<String> ins = new ArrayList<>();
            while (ins.size() < n) {
                String t = schemas[r.nextInt(schemas.length)] + "." + (r.nextBoolean() ? "t" : "tbl_") + r.nextInt(500) + (r.nextInt(5) == 0 ? "é" : "");
                if (!ins.contains(t)) { ins.add(t); m.put(t, 1L); }
            }
            out.append(prior).append('|').append(String.join(",", ins)).append('|').append(String.join(",", m.keySet())).append('\n');
        }
        System.out.print(out);
    }
}
