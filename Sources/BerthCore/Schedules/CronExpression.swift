public import Foundation

/// A cron expression (five fields: minute, hour, day of month, month, day of week) and the
/// times it names in a time zone: the first building block of schedules (issue 12).
///
/// The grammar is Vixie cron's: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists
/// `a,b`, month and weekday names (`jan`, `mon`), 7 as Sunday, and the shorthands `@yearly`,
/// `@monthly`, `@weekly`, `@daily`, `@hourly`. As in Vixie cron, when both the day of month and
/// the day of week are restricted, a day matching either one matches.
///
/// Times are wall-clock times in the schedule's time zone: `0 9 * * *` in Europe/Berlin is 09:00
/// there in winter and in summer. A wall-clock time that does not exist (skipped when the
/// clocks go forward) names no instant and is skipped; one that happens twice (when they go
/// back) names its first instant only.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let description: String
    let minutes: [Int]
    let hours: [Int]
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    private static let shorthands = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`.
    /// - Throws: ``CronError`` naming the field and the part that is wrong.
    public init(_ text: String) throws(CronError) {
        description = text
        let expanded = Self.shorthands[text.lowercased().trimmingCharacters(in: .whitespaces)] ?? text
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String($0).lowercased() }
        guard fields.count == 5 else {
            throw CronError("expected 5 fields (minute hour day-of-month month day-of-week) or a shorthand such as @daily, found \(fields.count)")
        }
        minutes = try Self.field(fields[0], "minute", 0...59, names: []).sorted()
        hours = try Self.field(fields[1], "hour", 0...23, names: []).sorted()
        days = try Self.field(fields[2], "day of month", 1...31, names: [])
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, nameBase: 1)
        weekdays = Set(try Self.field(fields[4], "day of week", 0...7, names: Self.weekdayNames).map { $0 % 7 })
        daysRestricted = fields[2] != "*" && !fields[2].hasPrefix("*/")
        weekdaysRestricted = fields[4] != "*" && !fields[4].hasPrefix("*/")
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String], nameBase: Int = 0) throws(CronError) -> Set<Int> {
        func value(_ token: Substring) throws(CronError) -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: String(token)) { return index + nameBase }
            throw CronError("\(name): '\(token)' is not a value from \(range.lowerBound) to \(range.upperBound)\(names.isEmpty ? "" : " or a name such as \(names[0])")")
        }
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count), !pieces[0].isEmpty else { throw CronError("\(name): '\(part)' is not a value, a range or a step") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1 else { throw CronError("\(name): the step in '\(part)' must be a number from 1") }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try value(pieces[0][..<dash]), high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else { throw CronError("\(name): the range '\(pieces[0])' runs backwards") }
                bounds = low...high
            } else {
                let single = try value(pieces[0])
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    /// Whether a calendar day matches the day-of-month, month and day-of-week fields.
    private func matches(day: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dayMatches = days.contains(day), weekdayMatches = weekdays.contains(weekday)
        if daysRestricted && weekdaysRestricted { return dayMatches || weekdayMatches }
        return dayMatches && weekdayMatches
    }

    /// The first instant after `date` (strictly) that the expression names in `timeZone`, or nil
    /// when it names none in the next five years (`0 0 31 2 *`).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = date.addingTimeInterval(60 - date.timeIntervalSince1970.truncatingRemainder(dividingBy: 60))
        let first = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: start)
        guard var day = calendar.date(from: DateComponents(year: first.year, month: first.month, day: first.day, hour: 12)) else { return nil }
        for offset in 0..<(5 * 366) {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let year = parts.year, let month = parts.month, let dayOfMonth = parts.day, let weekday = parts.weekday,
               matches(day: dayOfMonth, month: month, weekday: weekday - 1)
            {
                for hour in hours where offset > 0 || hour >= first.hour! {
                    for minute in minutes where offset > 0 || hour > first.hour! || minute >= first.minute! {
                        let wanted = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
                        // A wall-clock time the clocks skipped comes back as another time: skip it.
                        guard let instant = calendar.date(from: wanted),
                              calendar.dateComponents([.hour, .minute], from: instant) == DateComponents(hour: hour, minute: minute),
                              instant > date
                        else { continue }
                        return instant
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = next
        }
        return nil
    }
}

/// A cron expression that does not parse; the message names the field.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the field.
    public let description: String

    init(_ description: String) { self.description = description }
}
