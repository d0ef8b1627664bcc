using System.Globalization;

namespace AgentPlatform.Contracts.Usage;

/// <summary>
/// A deployment's prices in USD per million tokens, and their form on the wire from the Router to
/// the Api (<c>input=..;cached_input=..;output=..</c>, the header
/// <see cref="Http.ProxyResponse.PriceHeader"/>): written and read here, so the two sides cannot drift.
/// </summary>
public readonly record struct Prices(double InputPerMillion, double CachedInputPerMillion, double OutputPerMillion)
{
    /// <summary>The cost of <paramref name="usage"/>: cached prompt tokens at the cached price, the rest of the prompt at the input price.</summary>
    public decimal CostOf(TokenUsage usage)
    {
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var micro = (usage.InputTokens - cached) * (decimal)InputPerMillion + cached * (decimal)CachedInputPerMillion + usage.OutputTokens * (decimal)OutputPerMillion;
        return micro / 1_000_000m;
    }

    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"input={InputPerMillion};cached_input={CachedInputPerMillion};output={OutputPerMillion}");

    /// <summary>Reads what <see cref="Format"/> wrote; null when absent or malformed.</summary>
    public static Prices? Parse(ReadOnlySpan<char> header)
    {
        if (header.IsEmpty)
        {
            return null;
        }
        double input = 0, cached = 0, output = 0;
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
            }
        }
        return new Prices(input, cached, output);
    }
}
