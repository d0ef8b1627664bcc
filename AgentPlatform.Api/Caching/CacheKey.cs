using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// The identity of a chat completion for the response cache: a SHA-256 over the canonical form of
/// everything in the request that can change the answer. Canonical: properties sorted, whitespace
/// dropped, numbers and string escapes written one way, so <c>{"temperature":1.0}</c> and
/// <c>{ "temperature": 1 }</c> are the same request.
/// </summary>
/// <remarks>
/// Every field counts except those listed in <see cref="Ignored"/>, which are known not to change the
/// answer. A field this list does not know (a new OpenAI parameter) therefore keeps requests apart:
/// a needless miss is cheap, a wrong hit is not.
/// </remarks>
public static class CacheKey
{
    /// <summary>Top-level fields that do not change the answer: how it is delivered, and who asked.</summary>
    public static readonly IReadOnlySet<string> Ignored = new HashSet<string>(StringComparer.Ordinal)
    {
        "stream", "stream_options", "user", "metadata", "store", "safety_identifier", "prompt_cache_key",
    };

    /// <summary>The key of a valid chat completion body, as 64 lowercase hex characters.</summary>
    public static string Compute(ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        var canonical = new ArrayBufferWriter<byte>(body.Length);
        using (var writer = new Utf8JsonWriter(canonical))
        {
            WriteCanonical(writer, document.RootElement, topLevel: true);
        }
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(canonical.WrittenSpan, hash);
        return Convert.ToHexStringLower(hash);
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element, bool topLevel = false)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                var properties = new List<JsonProperty>();
                foreach (var property in element.EnumerateObject())
                {
                    if (!topLevel || !Ignored.Contains(property.Name))
                    {
                        properties.Add(property);
                    }
                }
                properties.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                foreach (var property in properties)
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonValueKind.Number:
                WriteNumber(writer, element);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>Numbers by value: 1, 1.0 and 1e0 are one number.</summary>
    private static void WriteNumber(Utf8JsonWriter writer, JsonElement number)
    {
        if (number.TryGetDecimal(out var value))
        {
            // Dividing by 1.000… drops trailing zeros from a decimal's scale: 1.50m becomes 1.5m.
            writer.WriteNumberValue(value / 1.0000000000000000000000000000m);
        }
        else if (number.TryGetDouble(out var large))
        {
            writer.WriteNumberValue(large);
        }
        else
        {
            number.WriteTo(writer);
        }
    }
}
