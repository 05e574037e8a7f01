package logtap.capture;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs Debezium's embedded engine as a deployment would (offsets in the
 * store the properties name, e.g. Kafka Connect's offsets topic) and writes
 * every record it delivers as one JSON line {"topic", "key", "value"}, until
 * the stop file appears; then closes the engine, which commits the offsets
 * of everything delivered, and exits. A takeover test then hands the
 * stored offsets to logtap and checks that logtap goes on from there.
 *
 * Usage: Handover <engine.properties> <out.jsonl> <stop-file> <timeout-seconds> [stop-after]
 *
 * With stop-after, the engine is also stopped once it delivered that many
 * records (at a point a test chooses, e.g. inside a big transaction).
 */
public final class Handover {
    public static void main(String[] args) throws Exception {
        if (args.length != 4 && args.length != 5) {
            System.err.println("usage: Handover <engine.properties> <out.jsonl> <stop-file> <timeout-seconds> [stop-after]");
            System.exit(2);
        }
        Properties props = new Properties();
        try (var in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
            props.load(in);
        }
        Path out = Path.of(args[1]);
        Path stop = Path.of(args[2]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[3]));
        long stopAfter = args.length == 5 ? Long.parseLong(args[4]) : Long.MAX_VALUE;

        AtomicInteger written = new AtomicInteger();
        CountDownLatch stopped = new CountDownLatch(1);
        BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8);

        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying(ev -> {
                    String line = "{\"topic\":" + Capture.quote(ev.destination())
                            + ",\"key\":" + (ev.key() == null ? "null" : ev.key())
                            + ",\"value\":" + (ev.value() == null ? "null" : ev.value()) + "}\n";
                    try {
                        w.write(line);
                        w.flush();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                    if (written.incrementAndGet() == stopAfter) {
                        try {
                            Files.writeString(stop, "stop\n");
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    }
                })
                .using((success, message, error) -> {
                    System.err.println("[handover] engine stopped: success=" + success + " " + message);
                    if (error != null) {
                        error.printStackTrace();
                    }
                    stopped.countDown();
                })
                .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        boolean asked = false;
        while (System.nanoTime() < deadline && stopped.getCount() > 0) {
            if (Files.exists(stop)) {
                asked = true;
                break;
            }
            Thread.sleep(50);
        }
        boolean early = stopped.getCount() == 0;
        try {
            engine.close();
        } catch (IllegalStateException alreadyStopped) {
            // The engine stopped by itself (an error, reported above).
        }
        executor.shutdown();
        if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
            executor.shutdownNow();
        }
        w.close();
        System.err.println("[handover] " + written.get() + " records written");
        if (!asked || early) {
            System.err.println("[handover] FAILED: " + (early ? "the engine stopped by itself" : "no stop file in time"));
            System.exit(1);
        }
        System.exit(0);
    }
}
