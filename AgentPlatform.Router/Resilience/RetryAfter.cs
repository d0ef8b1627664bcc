using System.Globalization;
using System.Net.Http.Headers;

namespace AgentPlatform.Router.Resilience;

/// <summary>How long a throttled deployment asked to be left alone, from the headers providers send.</summary>
public static class RetryAfter
{
    /// <summary>
    /// <c>retry-after-ms</c> (OpenAI, Azure) first, then <c>Retry-After</c> (seconds or a date), then
    /// OpenAI's <c>x-ratelimit-reset-requests</c>/<c>-tokens</c> for whichever limit is exhausted.
    /// Null when the response names no time.
    /// </summary>
    public static TimeSpan? From(HttpResponseHeaders headers, DateTimeOffset now)
    {
        if (TryGetSingle(headers, "retry-after-ms", out var ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds) && milliseconds >= 0)
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }
        if (headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta;
            }
            if (retryAfter.Date is { } date)
            {
                return date > now ? date - now : TimeSpan.Zero;
            }
        }
        TimeSpan? reset = null;
        foreach (var limit in (ReadOnlySpan<string>)["requests", "tokens"])
        {
            if (TryGetSingle(headers, "x-ratelimit-remaining-" + limit, out var remaining) && remaining == "0"
                && TryGetSingle(headers, "x-ratelimit-reset-" + limit, out var value) && ParseDuration(value) is { } duration
                && (reset is null || duration > reset))
            {
                reset = duration;
            }
        }
        return reset;
    }

    /// <summary>OpenAI's reset format: Go durations such as <c>20ms</c>, <c>1.5s</c>, <c>6m0s</c>, <c>1h2m3s</c>.</summary>
    public static TimeSpan? ParseDuration(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return null;
        }
        var total = 0.0;
        while (!text.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < text.Length && (char.IsAsciiDigit(text[numberLength]) || text[numberLength] == '.'))
            {
                numberLength++;
            }
            if (numberLength == 0 || !double.TryParse(text[..numberLength], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return null;
            }
            text = text[numberLength..];
            var unitLength = 0;
            while (unitLength < text.Length && char.IsAsciiLetter(text[unitLength]))
            {
                unitLength++;
            }
            double? seconds = text[..unitLength] switch
            {
                "h" => 3600,
                "m" => 60,
                "s" => 1,
                "ms" => 0.001,
                "us" => 0.000_001,
                "ns" => 0.000_000_001,
                _ => null,
            };
            if (seconds is null)
            {
                return null;
            }
            total += number * seconds.Value;
            text = text[unitLength..];
        }
        return TimeSpan.FromSeconds(total);
    }

    private static bool TryGetSingle(HttpResponseHeaders headers, string name, out string value)
    {
        value = "";
        if (headers.TryGetValues(name, out var values) && values.FirstOrDefault() is { } first)
        {
            value = first.Trim();
            return true;
        }
        return false;
    }
}
