import BerthCore
import Foundation
import Testing

/// Cron expressions: the grammar, its errors, and the next time in a time zone across DST.
@Suite("cron expressions")
struct CronExpressionTests {
    static let utc = TimeZone(identifier: "UTC")!

    /// `text` as a Date in `zone` (`2026-03-29 01:59`).
    static func at(_ text: String, _ zone: TimeZone = utc) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = text.split(whereSeparator: { "- :".contains($0) }).map { Int($0)! }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4]))!
    }

    /// The next `count` times of `expression` after `start`, in `zone`.
    static func times(_ expression: String, after start: Date, _ zone: TimeZone = utc, count: Int = 3) throws -> [Date] {
        let cron = try CronExpression(expression)
        var result: [Date] = []
        var last = start
        for _ in 0..<count {
            guard let next = cron.next(after: last, in: zone) else { break }
            result.append(next)
            last = next
        }
        return result
    }

    @Test func everyMinuteIsStrictlyAfter() throws {
        #expect(try Self.times("* * * * *", after: Self.at("2026-12-04 10:00")) == [
            Self.at("2026-12-04 10:01"), Self.at("2026-12-04 10:02"), Self.at("2026-12-04 10:03"),
        ])
        // Seconds into a minute: the next whole minute.
        #expect(try Self.times("* * * * *", after: Self.at("2026-12-04 10:00").addingTimeInterval(30), count: 1) == [Self.at("2026-12-04 10:01")])
    }

    @Test func rangesStepsListsAndNames() throws {
        #expect(try Self.times("*/15 9-10 * * mon-fri", after: Self.at("2026-12-04 10:40")) == [
            Self.at("2026-12-04 10:45"), Self.at("2026-12-07 09:00"), Self.at("2026-12-07 09:15"),
        ])
        #expect(try Self.times("0 0 1 jan,jul *", after: Self.at("2026-12-04 00:00"), count: 2) == [Self.at("2027-01-01 00:00"), Self.at("2027-07-01 00:00")])
        #expect(try Self.times("@hourly", after: Self.at("2026-12-04 10:00"), count: 1) == [Self.at("2026-12-04 11:00")])
        #expect(try Self.times("0 12 * * 7", after: Self.at("2026-12-04 00:00"), count: 1) == [Self.at("2026-12-06 12:00")], "7 is Sunday")
        #expect(try Self.times("30 6 29 2 *", after: Self.at("2026-12-04 00:00"), count: 1) == [Self.at("2028-02-29 06:30")])
    }

    @Test("day of month and day of week both restricted: either matches (Vixie cron)")
    func dayOrWeekday() throws {
        // The 13th, or any Friday.
        #expect(try Self.times("0 0 13 * fri", after: Self.at("2026-12-04 12:00")) == [
            Self.at("2026-12-11 00:00"), Self.at("2026-12-13 00:00"), Self.at("2026-12-18 00:00"),
        ])
    }

    @Test("wall-clock time in the zone across DST: 09:00 stays 09:00; a skipped time is skipped; a repeated one runs once")
    func daylightSaving() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        // Clocks go forward on 2026-03-29 at 02:00 (to 03:00): 09:00 is 08:00 UTC before, 07:00 UTC after.
        #expect(try Self.times("0 9 * * *", after: Self.at("2026-03-28 10:00", berlin), berlin, count: 2) == [
            Self.at("2026-03-29 07:00"), Self.at("2026-03-30 07:00"),
        ])
        // 02:30 does not exist that day.
        #expect(try Self.times("30 2 * * *", after: Self.at("2026-03-28 12:00", berlin), berlin, count: 2) == [
            Self.at("2026-03-30 00:30"), Self.at("2026-03-31 00:30"),
        ])
        // Clocks go back on 2026-10-25 at 03:00 (to 02:00): 02:30 happens twice, and runs once.
        let repeated = try Self.times("30 2 * * *", after: Self.at("2026-10-24 12:00", berlin), berlin, count: 2)
        #expect(repeated.count == 2 && repeated[1].timeIntervalSince(repeated[0]) >= 86_400)
    }

    @Test("errors name the field", arguments: [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "minute: '60' is not a value from 0 to 59"),
        ("* 5-2 * * *", "hour: the range '5-2' runs backwards"),
        ("* * * foo *", "month: 'foo' is not a value from 1 to 12 or a name such as jan"),
        ("*/0 * * * *", "minute: the step in '*/0' must be a number from 1"),
        ("* * , * *", "day of month: '' is not a value, a range or a step"),
    ])
    func errors(expression: String, message: String) {
        #expect(throws: CronError.self) { try CronExpression(expression) }
        do {
            _ = try CronExpression(expression)
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test func neverIsNil() throws {
        #expect(try CronExpression("0 0 31 2 *").next(after: Self.at("2026-12-04 00:00"), in: Self.utc) == nil)
    }
}
