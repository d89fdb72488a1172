// The daemon's own log, through winston: text for a terminal, JSON for journald and shippers.
import winston from "winston";

export function createLogger(format: "text" | "json"): winston.Logger {
  return winston.createLogger({
    level: process.env.PODD_LOG_LEVEL ?? "info",
    format:
      format === "json"
        ? winston.format.combine(winston.format.timestamp(), winston.format.json())
        : winston.format.combine(
            winston.format.timestamp({ format: "HH:mm:ss" }),
            winston.format.printf((i) => `${i.timestamp as string} ${i.level} ${i.message as string}`),
          ),
    // Warnings and errors on stderr, the rest on stdout, as a service manager expects.
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn"] })],
  });
}
