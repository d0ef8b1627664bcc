using System.Text.Json;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>What a chat completion body is checked for before it is forwarded.</summary>
public enum ChatRequestProblem
{
    None,
    InvalidJson,
    InvalidText,
    NotAnObject,
    MissingModel,
    ModelNotAString,
    ModelNameInvalid,
    MissingMessages,
    MessagesNotAnArray,
    StreamNotABoolean,
    ChoicesNotAPositiveInteger,
    MissingInput,
    InputInvalid,
    EncodingFormatInvalid,
    DimensionsNotAPositiveInteger,
    MissingMaxTokens,
    MaxTokensNotAPositiveInteger,
    ResponsesInputInvalid,
    MaxOutputTokensNotAPositiveInteger,
    PreviousResponseIdInvalid,
    ServerToolsNotAllowed,
}

/// <summary>Which model API a request speaks: the door it came through, and where the Router sends it.</summary>
public enum ModelApi
{
    /// <summary>OpenAI's <c>POST /v1/chat/completions</c>.</summary>
    ChatCompletions,

    /// <summary>OpenAI's <c>POST /v1/embeddings</c>.</summary>
    Embeddings,

    /// <summary>Anthropic's <c>POST /v1/messages</c>.</summary>
    Messages,

    /// <summary>OpenAI's <c>POST /v1/responses</c>.</summary>
    Responses,
}

/// <summary>What each door is called where it shows: its path, its name in usage records, the kind of model group it answers.</summary>
public static class ModelApis
{
    /// <summary>The door's path, the same on the Api and the Router.</summary>
    public static string Path(this ModelApi api) => api switch
    {
        ModelApi.Embeddings => "/v1/embeddings",
        ModelApi.Messages => "/v1/messages",
        ModelApi.Responses => "/v1/responses",
        _ => "/v1/chat/completions",
    };

    /// <summary>The door as a usage record names it.</summary>
    public static string RecordName(this ModelApi api) => api switch
    {
        ModelApi.Embeddings => "embeddings",
        ModelApi.Messages => "messages",
        ModelApi.Responses => "responses",
        _ => "chat.completions",
    };

    /// <summary>Whether the door's groups are embeddings groups (else chat groups).</summary>
    public static bool Embeds(this ModelApi api) => api == ModelApi.Embeddings;
}

/// <summary>What the request says of <c>stream_options</c>, which decides whether a stream reports its usage.</summary>
public enum StreamOptionsKind
{
    /// <summary>No <c>stream_options</c>: the client did not ask for usage, and the field can be added.</summary>
    Absent,

    /// <summary><c>stream_options.include_usage</c> is true.</summary>
    IncludeUsage,

    /// <summary><c>stream_options</c> is there without <c>include_usage: true</c>.</summary>
    WithoutUsage,
}

/// <summary>The few fields of a chat completion request the platform needs, found in one pass.</summary>
public readonly record struct ChatRequestScan(
    ChatRequestProblem Problem,
    string? Model,
    Range ModelToken,
    bool Stream,
    StreamOptionsKind StreamOptions = StreamOptionsKind.Absent,
    int Choices = 1)
{
    public bool IsValid => Problem == ChatRequestProblem.None;
}

/// <summary>
/// Validates a chat completion body and finds <c>model</c> (and where its token lies, so the Router can
/// rewrite it in place), <c>stream</c> and <c>messages</c> with one forward-only
/// <see cref="Utf8JsonReader"/> pass. The body is never deserialized: every other field passes through
/// byte for byte, and the hot path allocates only the model name. An embeddings body is checked alike
/// for <c>model</c>, <c>input</c> (a string, or a non-empty array of strings, of token ids or of arrays of
/// token ids), <c>encoding_format</c> and <c>dimensions</c>; it never streams. An Anthropic Messages body
/// is checked as a chat body is, with <c>max_tokens</c> required (a positive integer) as Anthropic requires it.
/// </summary>
public static class ChatRequestScanner
{
    public static ChatRequestScan Scan(ReadOnlySpan<byte> json, ModelApi api = ModelApi.ChatCompletions)
    {
        if (!JsonText.IsValid(json))
        {
            return new(ChatRequestProblem.InvalidText, null, default, false);
        }
        try
        {
            return ScanCore(json, api);
        }
        catch (JsonException)
        {
            return new(ChatRequestProblem.InvalidJson, null, default, false);
        }
    }

    private static ChatRequestScan ScanCore(ReadOnlySpan<byte> json, ModelApi api)
    {
        var embeddings = api == ModelApi.Embeddings;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read())
        {
            return new(ChatRequestProblem.InvalidJson, null, default, false);
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return new(ChatRequestProblem.NotAnObject, null, default, false);
        }

        string? model = null;
        Range modelToken = default;
        var stream = false;
        var problem = ChatRequestProblem.None;
        var sawMessages = false;
        var sawInput = false;
        var streamOptions = StreamOptionsKind.Absent;
        var choices = 1;
        var sawMaxTokens = false;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 2 * MaxModelNameLength)
                {
                    // Too long even with every character escaped (\/): refused without reading it into a string.
                    problem = First(problem, ChatRequestProblem.ModelNameInvalid);
                }
                else if (reader.TokenType == JsonTokenType.String)
                {
                    model = reader.GetString();
                    modelToken = new Range((int)reader.TokenStartIndex, (int)reader.BytesConsumed);
                }
                else
                {
                    problem = First(problem, ChatRequestProblem.ModelNotAString);
                    reader.Skip();
                }
            }
            else if (embeddings)
            {
                if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    sawInput = true;
                    if (!IsEmbeddingsInput(ref reader))
                    {
                        problem = First(problem, ChatRequestProblem.InputInvalid);
                    }
                }
                else if (reader.ValueTextEquals("encoding_format"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.String && (reader.ValueTextEquals("float"u8) || reader.ValueTextEquals("base64"u8))))
                    {
                        problem = First(problem, ChatRequestProblem.EncodingFormatInvalid);
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("dimensions"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var dimensions) && dimensions >= 1))
                    {
                        problem = First(problem, ChatRequestProblem.DimensionsNotAPositiveInteger);
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                switch (reader.TokenType)
                {
                    case JsonTokenType.True:
                        stream = true;
                        break;
                    case JsonTokenType.False or JsonTokenType.Null:
                        stream = false;
                        break;
                    default:
                        problem = First(problem, ChatRequestProblem.StreamNotABoolean);
                        reader.Skip();
                        break;
                }
            }
            else if (reader.ValueTextEquals("stream_options"u8))
            {
                reader.Read();
                streamOptions = StreamOptionsKind.WithoutUsage;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
                        reader.Read();
                        if (isIncludeUsage && reader.TokenType == JsonTokenType.True)
                        {
                            streamOptions = StreamOptionsKind.IncludeUsage;
                        }
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (api == ModelApi.Responses && reader.ValueTextEquals("input"u8))
            {
                // A string, or an array of items (messages, function calls and their outputs...), checked item by item where translated.
                reader.Read();
                sawInput = true;
                if (!(reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0) && reader.TokenType != JsonTokenType.StartArray)
                {
                    problem = First(problem, ChatRequestProblem.ResponsesInputInvalid);
                }
                reader.Skip();
            }
            else if (api == ModelApi.Responses && reader.ValueTextEquals("max_output_tokens"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var maxOutput) && maxOutput >= 1))
                {
                    problem = First(problem, ChatRequestProblem.MaxOutputTokensNotAPositiveInteger);
                    reader.Skip();
                }
            }
            else if (api == ModelApi.Responses && reader.ValueTextEquals("previous_response_id"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null && !(reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length is > 0 and <= MaxModelNameLength))
                {
                    problem = First(problem, ChatRequestProblem.PreviousResponseIdInvalid);
                    reader.Skip();
                }
            }
            else if (api == ModelApi.Messages && reader.ValueTextEquals("max_tokens"u8))
            {
                // Required by Anthropic's Messages API, and what the request may cost in output.
                reader.Read();
                sawMaxTokens = true;
                if (!(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var maxTokens) && maxTokens >= 1))
                {
                    problem = First(problem, ChatRequestProblem.MaxTokensNotAPositiveInteger);
                    reader.Skip();
                }
            }
            else if (api == ModelApi.ChatCompletions && reader.ValueTextEquals("n"u8))
            {
                // How many answers to write: the output a request may cost is n times its max_tokens.
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) && n >= 1)
                {
                    choices = n;
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    problem = First(problem, ChatRequestProblem.ChoicesNotAPositiveInteger);
                    reader.Skip();
                }
            }
            else if (api == ModelApi.Messages && (reader.ValueTextEquals("mcp_servers"u8) || reader.ValueTextEquals("container"u8)))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null)
                {
                    problem = First(problem, ChatRequestProblem.ServerToolsNotAllowed);
                }
                reader.Skip();
            }
            else if (api is ModelApi.Messages or ModelApi.Responses && reader.ValueTextEquals("tools"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray && HasServerTool(ref reader, api))
                {
                    problem = First(problem, ChatRequestProblem.ServerToolsNotAllowed);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("messages"u8))
            {
                reader.Read();
                sawMessages = true;
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    problem = First(problem, ChatRequestProblem.MessagesNotAnArray);
                }
                reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        // Whatever follows the object must be nothing but whitespace; the reader throws otherwise.
        while (reader.Read())
        {
        }

        if (problem != ChatRequestProblem.None)
        {
            return new(problem, model, modelToken, stream);
        }
        if (string.IsNullOrEmpty(model))
        {
            return new(model is null ? ChatRequestProblem.MissingModel : ChatRequestProblem.ModelNotAString, model, modelToken, stream);
        }
        if (!IsValidModelName(model))
        {
            return new(ChatRequestProblem.ModelNameInvalid, null, default, stream);
        }
        if (embeddings)
        {
            return new(sawInput ? ChatRequestProblem.None : ChatRequestProblem.MissingInput, model, modelToken, Stream: false);
        }
        if (api == ModelApi.Responses)
        {
            return new(sawInput ? ChatRequestProblem.None : ChatRequestProblem.MissingInput, model, modelToken, stream);
        }
        if (!sawMessages)
        {
            return new(ChatRequestProblem.MissingMessages, model, modelToken, stream);
        }
        if (api == ModelApi.Messages && !sawMaxTokens)
        {
            return new(ChatRequestProblem.MissingMaxTokens, model, modelToken, stream);
        }
        return new(ChatRequestProblem.None, model, modelToken, stream, streamOptions, choices);
    }

    /// <summary>The longest model name taken: longer than any provider's, short enough to log, tag and store.</summary>
    public const int MaxModelNameLength = 256;

    /// <summary>
    /// Whether a client's model name may be used at all: up to <see cref="MaxModelNameLength"/> ASCII
    /// letters, digits and <c>-_.:/@+</c> — every provider's and Ollama's names (<c>gpt-4o</c>,
    /// <c>claude-3-5-sonnet@20240620</c>, <c>llama3.1:8b</c>, <c>org/model</c>) and <c>agent:{name}</c>.
    /// It becomes a Redis key part, a log field and a metric tag, so nothing else gets that far.
    /// </summary>
    public static bool IsValidModelName(ReadOnlySpan<char> model) =>
        model.Length is > 0 and <= MaxModelNameLength && !model.ContainsAnyExcept(ModelNameCharacters);

    private static readonly System.Buffers.SearchValues<char> ModelNameCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+");

    /// <summary>
    /// Whether the value at the reader is an embeddings input OpenAI takes: a non-empty string, or a
    /// non-empty array of non-empty strings, of token ids, or of non-empty arrays of token ids. Leaves
    /// the reader on the value's last token.
    /// </summary>
    private static bool IsEmbeddingsInput(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.ValueSpan.Length > 0;
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return false;
        }
        JsonTokenType? itemKind = null;
        var valid = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var kind = reader.TokenType;
            valid &= (itemKind ??= kind) == kind && kind switch
            {
                JsonTokenType.String => reader.ValueSpan.Length > 0,
                JsonTokenType.Number => reader.TryGetInt32(out var id) && id >= 0,
                JsonTokenType.StartArray => IsTokenIds(ref reader),
                _ => false,
            };
            reader.Skip();
        }
        return valid && itemKind is not null;
    }

    /// <summary>
    /// Whether a tools array holds a tool the provider runs and bills by use: at the Messages door, any
    /// <c>type</c> but <c>custom</c> (web search, web fetch, code execution...); at the Responses door, any
    /// but those the client runs (<see cref="IsClientTool"/>: web search, file search, code interpreter, image
    /// generation, MCP...). An allow-list, so a hosted tool added tomorrow is refused too. Leaves the reader on
    /// the array's end.
    /// </summary>
    private static bool HasServerTool(ref Utf8JsonReader reader, ModelApi api)
    {
        var found = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                reader.Read();
                found |= isType && reader.TokenType == JsonTokenType.String
                    && (api == ModelApi.Messages ? !reader.ValueTextEquals("custom"u8) : !IsClientTool(ref reader));
                reader.Skip();
            }
        }
        return found;
    }

    /// <summary>A Responses tool the client runs, its calls billed as tokens: functions, custom (freeform) tools, and Codex's shell and patch tools.</summary>
    private static bool IsClientTool(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("function"u8) || reader.ValueTextEquals("custom"u8) || reader.ValueTextEquals("local_shell"u8)
        || reader.ValueTextEquals("shell"u8) || reader.ValueTextEquals("apply_patch"u8);

    /// <summary>Whether the array at the reader is a non-empty array of token ids; leaves the reader on its end.</summary>
    private static bool IsTokenIds(ref Utf8JsonReader reader)
    {
        var count = 0;
        var valid = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            valid &= reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var id) && id >= 0;
            reader.Skip();
            count++;
        }
        return valid && count > 0;
    }

    private static ChatRequestProblem First(ChatRequestProblem current, ChatRequestProblem next) =>
        current == ChatRequestProblem.None ? next : current;

    /// <summary>The OpenAI error (message and offending parameter) for a problem.</summary>
    public static (string Message, string? Param) Describe(ChatRequestProblem problem) => problem switch
    {
        ChatRequestProblem.InvalidJson => ("We could not parse the JSON body of your request. The body must be a JSON object.", null),
        ChatRequestProblem.InvalidText => ("The request body is not valid UTF-8 JSON text: it holds bytes that are not UTF-8, or an escaped lone surrogate ('\\ud800' without its pair).", null),
        ChatRequestProblem.NotAnObject => ("The request body must be a JSON object.", null),
        ChatRequestProblem.MissingModel => ("You must provide a model parameter.", "model"),
        ChatRequestProblem.ModelNotAString => ("'model' must be a non-empty string.", "model"),
        ChatRequestProblem.ModelNameInvalid => ($"'model' must be at most {MaxModelNameLength} characters of letters, digits and - _ . : / @ +.", "model"),
        ChatRequestProblem.MissingMessages => ("Missing required parameter: 'messages'.", "messages"),
        ChatRequestProblem.MessagesNotAnArray => ("'messages' must be an array.", "messages"),
        ChatRequestProblem.StreamNotABoolean => ("'stream' must be a boolean.", "stream"),
        ChatRequestProblem.ChoicesNotAPositiveInteger => ("'n' must be a positive integer.", "n"),
        ChatRequestProblem.MissingInput => ("Missing required parameter: 'input'.", "input"),
        ChatRequestProblem.InputInvalid => ("'input' must be a non-empty string, or a non-empty array of non-empty strings, of token ids, or of non-empty arrays of token ids.", "input"),
        ChatRequestProblem.EncodingFormatInvalid => ("'encoding_format' must be 'float' or 'base64'.", "encoding_format"),
        ChatRequestProblem.DimensionsNotAPositiveInteger => ("'dimensions' must be a positive integer.", "dimensions"),
        ChatRequestProblem.MissingMaxTokens => ("max_tokens: Field required.", "max_tokens"),
        ChatRequestProblem.MaxTokensNotAPositiveInteger => ("max_tokens: Input should be an integer of at least 1.", "max_tokens"),
        ChatRequestProblem.ResponsesInputInvalid => ("'input' must be a non-empty string or an array of input items.", "input"),
        ChatRequestProblem.MaxOutputTokensNotAPositiveInteger => ("'max_output_tokens' must be a positive integer.", "max_output_tokens"),
        ChatRequestProblem.PreviousResponseIdInvalid => ("'previous_response_id' must be a response id.", "previous_response_id"),
        ChatRequestProblem.ServerToolsNotAllowed => ("Server tools (web search, web fetch, file search, code execution, image generation, MCP servers, containers) are not allowed here: "
            + "the provider runs them and bills them by use, outside the token usage that limits and budgets hold. Use function (custom) tools.", "tools"),
        _ => throw new ArgumentOutOfRangeException(nameof(problem)),
    };
}
