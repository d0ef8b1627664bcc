using System.Text.Unicode;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>
/// Whether a JSON body is text every provider can read: valid UTF-8 with no escaped lone surrogate
/// (<c>"\ud800"</c>). <see cref="System.Text.Json.Utf8JsonReader"/> accepts both in strings it
/// only skips, and a provider that chokes on them answers 500 — a failure the request causes that
/// would otherwise count against the deployment's breaker.
/// </summary>
public static class JsonText
{
    public static bool IsValid(ReadOnlySpan<byte> json) => Utf8.IsValid(json) && !HasLoneSurrogateEscape(json);

    /// <summary>
    /// Walks the escapes (a backslash only appears in a JSON string, as the start of an escape): a
    /// <c>\uD800</c>–<c>\uDBFF</c> must be followed at once by a <c>\uDC00</c>–<c>\uDFFF</c>, which
    /// must never stand alone.
    /// </summary>
    private static bool HasLoneSurrogateEscape(ReadOnlySpan<byte> json)
    {
        var position = 0;
        while (position < json.Length)
        {
            var found = json[position..].IndexOf((byte)'\\');
            if (found < 0)
            {
                return false;
            }
            position += found;
            if (!TryReadUnicodeEscape(json, position, out var unit))
            {
                position += 2; // \" \\ \/ \b \f \n \r \t, or an escape the JSON reader refuses anyway
                continue;
            }
            position += 6;
            if (char.IsLowSurrogate(unit))
            {
                return true;
            }
            if (char.IsHighSurrogate(unit))
            {
                if (!TryReadUnicodeEscape(json, position, out var next) || !char.IsLowSurrogate(next))
                {
                    return true;
                }
                position += 6;
            }
        }
        return false;
    }

    private static bool TryReadUnicodeEscape(ReadOnlySpan<byte> json, int at, out char unit)
    {
        unit = '\0';
        if (at + 6 > json.Length || json[at] != '\\' || json[at + 1] != 'u')
        {
            return false;
        }
        var value = 0;
        foreach (var digit in json.Slice(at + 2, 4))
        {
            var nibble = HexValue(digit);
            if (nibble < 0)
            {
                return false;
            }
            value = (value << 4) | nibble;
        }
        unit = (char)value;
        return true;
    }

    private static int HexValue(byte digit) => digit switch
    {
        >= (byte)'0' and <= (byte)'9' => digit - '0',
        >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => digit - 'A' + 10,
        _ => -1,
    };
}
