using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentPlatform.Router.Providers.Messages;

/// <summary>
/// An Anthropic Messages request said in OpenAI's Chat Completions, for a deployment that speaks only
/// that: <c>system</c> becomes the system message; user and assistant turns keep their order, text and
/// images (base64 or URL) become content parts, <c>tool_use</c> blocks tool calls and <c>tool_result</c>
/// blocks tool messages (ahead of the rest of their turn, as OpenAI wants them right after the call);
/// tools, tool choice (and <c>disable_parallel_tool_use</c>), stop sequences, temperature, top_p,
/// <c>max_tokens</c> and the end user carry over; a stream asks for its usage. Prompt-cache breakpoints
/// and thinking blocks a client sends back are dropped (an OpenAI-compatible server caches by itself and
/// has no signed thinking to check). What has no translation — documents, search results, server tools,
/// MCP servers, containers, extended thinking, <c>top_k</c>, images inside tool results — is refused by
/// name (<see cref="UntranslatableRequestException"/>).
/// </summary>
public static class MessagesRequestTranslator
{
    public static JsonObject Translate(ReadOnlySpan<byte> messagesBody, string model)
    {
        if (JsonNode.Parse(messagesBody) is not JsonObject request)
        {
            throw new UntranslatableRequestException("The request body must be a JSON object.", null);
        }
        foreach (var name in (ReadOnlySpan<string>)["top_k", "mcp_servers", "container"])
        {
            if (request[name] is { } present && present.GetValueKind() != JsonValueKind.Null)
            {
                throw Untranslatable($"'{name}' has no equivalent in OpenAI's Chat Completions.", name);
            }
        }
        if (request["thinking"] is JsonObject thinking && JsonFields.String(thinking["type"]) is not (null or "disabled"))
        {
            throw Untranslatable("Extended thinking ('thinking') has no equivalent in OpenAI's Chat Completions.", "thinking");
        }

        var messages = new JsonArray();
        if (request["system"] is { } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = Text(system, "system") });
        }
        if (request["messages"] is not JsonArray turns)
        {
            throw Untranslatable("'messages' must be an array.", "messages");
        }
        for (var i = 0; i < turns.Count; i++)
        {
            var turn = turns[i] as JsonObject ?? throw Untranslatable($"messages.{i} must be an object.", $"messages.{i}");
            switch (JsonFields.String(turn["role"]))
            {
                case "user":
                    AddUserTurn(messages, turn["content"], $"messages.{i}.content");
                    break;
                case "assistant":
                    messages.Add(AssistantTurn(turn["content"], $"messages.{i}.content"));
                    break;
                default:
                    throw Untranslatable($"messages.{i}.role must be 'user' or 'assistant'.", $"messages.{i}.role");
            }
        }

        var chat = new JsonObject
        {
            ["model"] = model,
            ["messages"] = messages,
            ["max_tokens"] = request["max_tokens"]?.DeepClone(),
        };
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p"])
        {
            if (request[name] is JsonValue value)
            {
                chat[name] = value.DeepClone();
            }
        }
        if (request["stop_sequences"] is JsonArray { Count: > 0 } stops)
        {
            chat["stop"] = stops.DeepClone();
        }
        if (JsonFields.String(request["metadata"]?["user_id"]) is { } user)
        {
            chat["user"] = user;
        }
        if (request["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.True)
        {
            chat["stream"] = true;
            // The Router counts every answer's tokens: OpenAI reports a stream's usage only when asked.
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        if (request["tools"] is JsonArray { Count: > 0 } tools)
        {
            chat["tools"] = new JsonArray(tools.Select((tool, index) => (JsonNode?)Tool(tool, index)).ToArray());
            ToolChoice(request["tool_choice"], chat);
        }
        return chat;
    }

    /// <summary>A user turn: its tool results as tool messages first, then the rest as one user message.</summary>
    private static void AddUserTurn(JsonArray messages, JsonNode? content, string path)
    {
        if (content is JsonValue)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = Text(content, path) });
            return;
        }
        var parts = new JsonArray();
        foreach (var (block, blockPath) in Blocks(content, path))
        {
            switch (JsonFields.String(block["type"]))
            {
                case "tool_result":
                    messages.Add(new JsonObject
                    {
                        ["role"] = "tool",
                        ["tool_call_id"] = JsonFields.String(block["tool_use_id"]) ?? throw Untranslatable($"{blockPath}.tool_use_id is required.", $"{blockPath}.tool_use_id"),
                        // An error result is said so in words: OpenAI's tool message has no flag for it.
                        ["content"] = (block["is_error"] is JsonValue error && error.GetValueKind() == JsonValueKind.True ? "Error: " : "")
                            + (block["content"] is null ? "" : Text(block["content"], $"{blockPath}.content")),
                    });
                    break;
                case "text":
                    parts.Add(new JsonObject { ["type"] = "text", ["text"] = JsonFields.String(block["text"]) ?? "" });
                    break;
                case "image":
                    parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = ImageUrl(block["source"], $"{blockPath}.source") } });
                    break;
                case "thinking" or "redacted_thinking":
                    break;
                case var type:
                    throw Untranslatable($"A '{type}' block has no equivalent in OpenAI's Chat Completions.", blockPath);
            }
        }
        if (parts.Count > 0)
        {
            // Text alone goes as a string: every OpenAI-compatible server takes that.
            messages.Add(new JsonObject
            {
                ["role"] = "user",
                ["content"] = parts.All(p => JsonFields.String(p!["type"]) == "text") ? string.Join("\n", parts.Select(p => JsonFields.String(p!["text"]))) : parts,
            });
        }
    }

    private static JsonObject AssistantTurn(JsonNode? content, string path)
    {
        if (content is JsonValue)
        {
            return new JsonObject { ["role"] = "assistant", ["content"] = Text(content, path) };
        }
        var text = new List<string>();
        var calls = new JsonArray();
        foreach (var (block, blockPath) in Blocks(content, path))
        {
            switch (JsonFields.String(block["type"]))
            {
                case "text":
                    text.Add(JsonFields.String(block["text"]) ?? "");
                    break;
                case "tool_use":
                    calls.Add(new JsonObject
                    {
                        ["id"] = JsonFields.String(block["id"]),
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = JsonFields.String(block["name"]), ["arguments"] = block["input"]?.ToJsonString() ?? "{}" },
                    });
                    break;
                case "thinking" or "redacted_thinking":
                    break;
                case var type:
                    throw Untranslatable($"A '{type}' block has no equivalent in OpenAI's Chat Completions.", blockPath);
            }
        }
        var message = new JsonObject { ["role"] = "assistant", ["content"] = text.Count > 0 ? string.Join("", text) : null };
        if (calls.Count > 0)
        {
            message["tool_calls"] = calls;
        }
        return message;
    }

    private static JsonObject Tool(JsonNode? tool, int index)
    {
        var path = $"tools.{index}";
        if (tool is not JsonObject definition || JsonFields.String(definition["name"]) is not { } name)
        {
            throw Untranslatable($"{path} must be an object with a name.", path);
        }
        // A server tool (web search, code execution, bash, text editor...) has a versioned type: it runs at Anthropic.
        if (JsonFields.String(definition["type"]) is { } type && type != "custom")
        {
            throw Untranslatable($"The server tool '{name}' ({type}) runs only at Anthropic; OpenAI's Chat Completions has function tools only.", path);
        }
        var function = new JsonObject { ["name"] = name, ["parameters"] = definition["input_schema"]?.DeepClone() ?? new JsonObject { ["type"] = "object" } };
        if (JsonFields.String(definition["description"]) is { } description)
        {
            function["description"] = description;
        }
        return new JsonObject { ["type"] = "function", ["function"] = function };
    }

    private static void ToolChoice(JsonNode? choice, JsonObject chat)
    {
        if (choice is not JsonObject tool)
        {
            return;
        }
        chat["tool_choice"] = JsonFields.String(tool["type"]) switch
        {
            "any" => "required",
            "none" => "none",
            "tool" => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = JsonFields.String(tool["name"]) } },
            _ => "auto",
        };
        if (tool["disable_parallel_tool_use"] is JsonValue disable && disable.GetValueKind() == JsonValueKind.True)
        {
            chat["parallel_tool_calls"] = false;
        }
    }

    /// <summary>An image block's source as the URL OpenAI takes: a data URL for base64, or the URL itself.</summary>
    private static string ImageUrl(JsonNode? source, string path) => JsonFields.String(source?["type"]) switch
    {
        "base64" => $"data:{JsonFields.String(source!["media_type"])};base64,{JsonFields.String(source["data"])}",
        "url" => JsonFields.String(source!["url"]) ?? throw Untranslatable($"{path}.url is required.", path),
        var type => throw Untranslatable($"An image source of type '{type}' has no equivalent in OpenAI's Chat Completions.", path),
    };

    /// <summary>The text of a string, or of an array of text blocks (anything else there is refused by name).</summary>
    private static string Text(JsonNode? content, string path)
    {
        if (content is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }
        var text = new List<string>();
        foreach (var (block, blockPath) in Blocks(content, path))
        {
            if (JsonFields.String(block["type"]) != "text")
            {
                throw Untranslatable($"A '{JsonFields.String(block["type"])}' block cannot go where OpenAI's Chat Completions takes only text.", blockPath);
            }
            text.Add(JsonFields.String(block["text"]) ?? "");
        }
        return string.Join("\n", text);
    }

    private static IEnumerable<(JsonObject Block, string Path)> Blocks(JsonNode? content, string path)
    {
        if (content is not JsonArray blocks)
        {
            throw Untranslatable($"{path} must be a string or an array of content blocks.", path);
        }
        for (var i = 0; i < blocks.Count; i++)
        {
            yield return (blocks[i] as JsonObject ?? throw Untranslatable($"{path}.{i} must be an object.", $"{path}.{i}"), $"{path}.{i}");
        }
    }

    private static UntranslatableRequestException Untranslatable(string message, string? param) => new(message, param);
}
