using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentPlatform.Simulator.Embeddings;

/// <summary>
/// Answers an embeddings request deterministically: each input's vector is drawn from a generator seeded
/// by the input's SHA-256, then scaled to unit length — the same text always gets the same vector, and
/// different texts point in (nearly) unrelated directions, as real embeddings of unrelated texts do.
/// Token ids are embedded as their text form. Usage counts words (token ids one each), as the simulator's
/// chat answers count them.
/// </summary>
public sealed class EmbeddingGenerator
{
    /// <summary>The vector length when the request sets no <c>dimensions</c> (text-embedding-3-small's).</summary>
    public const int DefaultDimensions = 1536;

    /// <summary>The longest vector the simulator writes; text-embedding-3-large's.</summary>
    public const int MaxDimensions = 3072;

    /// <summary>The most inputs one request may carry, as OpenAI's API allows.</summary>
    public const int MaxInputs = 2048;

    /// <summary>Writes the answer for <paramref name="body"/> to <paramref name="output"/>; or says what is wrong with the request.</summary>
    public (int PromptTokens, string? Error) Generate(ReadOnlySpan<byte> body, IBufferWriter<byte> output)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return (0, "We could not parse the JSON body of your request.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
            {
                return (0, "You must provide a model parameter.");
            }
            if (Inputs(root) is not { } inputs)
            {
                return (0, "'input' must be a non-empty string, or a non-empty array of strings, of token ids or of arrays of token ids.");
            }
            if (inputs.Count > MaxInputs)
            {
                return (0, $"'input' may hold at most {MaxInputs} items.");
            }
            var dimensions = DefaultDimensions;
            if (root.TryGetProperty("dimensions", out var requested) && requested.ValueKind != JsonValueKind.Null
                && (!requested.TryGetInt32(out dimensions) || dimensions is < 1 or > MaxDimensions))
            {
                return (0, $"'dimensions' must be between 1 and {MaxDimensions}.");
            }
            var base64 = root.TryGetProperty("encoding_format", out var format) && format.ValueEquals("base64"u8);
            var tokens = 0;
            using var json = new Utf8JsonWriter(output);
            json.WriteStartObject();
            json.WriteString("object"u8, "list"u8);
            json.WriteStartArray("data"u8);
            var vector = new float[dimensions];
            for (var i = 0; i < inputs.Count; i++)
            {
                var (text, count) = inputs[i];
                tokens += count;
                Embed(text, vector);
                json.WriteStartObject();
                json.WriteString("object"u8, "embedding"u8);
                json.WriteNumber("index"u8, i);
                if (base64)
                {
                    json.WriteBase64String("embedding"u8, MemoryMarshal.AsBytes(vector.AsSpan()));
                }
                else
                {
                    json.WriteStartArray("embedding"u8);
                    foreach (var value in vector)
                    {
                        json.WriteNumberValue(value);
                    }
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("model"u8, model.GetString());
            json.WriteStartObject("usage"u8);
            json.WriteNumber("prompt_tokens"u8, tokens);
            json.WriteNumber("total_tokens"u8, tokens);
            json.WriteEndObject();
            json.WriteEndObject();
            return (tokens, null);
        }
    }

    /// <summary>Each input as text with its token count; null when <c>input</c> is missing or of a shape OpenAI refuses.</summary>
    private static List<(string Text, int Tokens)>? Inputs(JsonElement root)
    {
        if (!root.TryGetProperty("input", out var input))
        {
            return null;
        }
        if (input.ValueKind == JsonValueKind.String)
        {
            return input.GetString() is { Length: > 0 } text ? [(text, CountWords(text))] : null;
        }
        if (input.ValueKind != JsonValueKind.Array || input.GetArrayLength() == 0)
        {
            return null;
        }
        var inputs = new List<(string, int)>(input.GetArrayLength());
        if (input[0].ValueKind == JsonValueKind.Number)
        {
            // One text given as token ids.
            return TokenIds(input) is { } ids ? [ids] : null;
        }
        foreach (var item in input.EnumerateArray())
        {
            switch (item.ValueKind)
            {
                case JsonValueKind.String when item.GetString() is { Length: > 0 } text:
                    inputs.Add((text, CountWords(text)));
                    break;
                case JsonValueKind.Array when TokenIds(item) is { } ids:
                    inputs.Add(ids);
                    break;
                default:
                    return null;
            }
        }
        return inputs;
    }

    private static (string Text, int Tokens)? TokenIds(JsonElement array)
    {
        var text = new StringBuilder();
        var count = 0;
        foreach (var id in array.EnumerateArray())
        {
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var value) || value < 0)
            {
                return null;
            }
            text.Append(value).Append(' ');
            count++;
        }
        return count > 0 ? (text.ToString(), count) : null;
    }

    private static int CountWords(string text) => Math.Max(1, text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length);

    /// <summary>A unit vector drawn from a xorshift generator seeded by the text's hash.</summary>
    private static void Embed(string text, Span<float> vector)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        var state = BitConverter.ToUInt64(hash) | 1;
        double sumOfSquares = 0;
        for (var i = 0; i < vector.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            var value = (float)((state >> 11) * (1.0 / (1UL << 53)) * 2 - 1);
            vector[i] = value;
            sumOfSquares += value * value;
        }
        var scale = (float)(1 / Math.Sqrt(sumOfSquares));
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= scale;
        }
    }
}
