using System.Globalization;

namespace AgentPlatform.Contracts.Usage;

/// <summary>
/// A deployment's prices in USD per million tokens, and their form on the wire from the Router to
/// the Api (<c>input=..;cached_input=..;output=..;cache_write=..</c>, the header
/// <see cref="Http.ProxyResponse.PriceHeader"/>): written and read here, so the two sides cannot drift.
/// </summary>
/// <param name="CacheWriteInputPerMillion">
/// What a prompt token written to the provider's prompt cache costs (Anthropic: 1.25× input for 5-minute
/// entries, 2× for 1-hour ones); null when the deployment sets none, and such tokens cost the input price.
/// </param>
public readonly record struct Prices(double InputPerMillion, double CachedInputPerMillion, double OutputPerMillion, double? CacheWriteInputPerMillion = null)
{
    /// <summary>
    /// The cost of <paramref name="usage"/>: cached prompt tokens at the cached price, those written to the
    /// cache at the cache-write price, the rest of the prompt at the input price.
    /// </summary>
    public decimal CostOf(TokenUsage usage)
    {
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var written = Math.Min(usage.CacheWriteInputTokens, usage.InputTokens - cached);
        var micro = (usage.InputTokens - cached - written) * (decimal)InputPerMillion + cached * (decimal)CachedInputPerMillion
            + written * (decimal)(CacheWriteInputPerMillion ?? InputPerMillion) + usage.OutputTokens * (decimal)OutputPerMillion;
        return micro / 1_000_000m;
    }

    public string Format() => CacheWriteInputPerMillion is { } cacheWrite
        ? string.Create(CultureInfo.InvariantCulture, $"input={InputPerMillion};cached_input={CachedInputPerMillion};output={OutputPerMillion};cache_write={cacheWrite}")
        : string.Create(CultureInfo.InvariantCulture, $"input={InputPerMillion};cached_input={CachedInputPerMillion};output={OutputPerMillion}");

    /// <summary>Reads what <see cref="Format"/> wrote; null when absent or malformed.</summary>
    public static Prices? Parse(ReadOnlySpan<char> header)
    {
        if (header.IsEmpty)
        {
            return null;
        }
        double input = 0, cached = 0, output = 0;
        double? cacheWrite = null;
        foreach (var range in header.Split(';'))
        {
            var part = header[range].Trim();
            var equals = part.IndexOf('=');
            if (equals <= 0 || !double.TryParse(part[(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }
            switch (part[..equals])
            {
                case "input": input = value; break;
                case "cached_input": cached = value; break;
                case "output": output = value; break;
                case "cache_write": cacheWrite = value; break;
            }
        }
        return new Prices(input, cached, output, cacheWrite);
    }
}
