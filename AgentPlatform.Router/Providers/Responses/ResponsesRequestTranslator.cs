using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentPlatform.Router.Providers.Responses;

/// <summary>
/// An OpenAI Responses request said in Chat Completions, which every deployment of the pool speaks (an
/// Anthropic deployment's adapter takes it from there): <c>instructions</c> become the system message; the
/// input's messages keep their order and roles, their text and images become content parts;
/// <c>function_call</c> items become the assistant's tool calls and <c>function_call_output</c> items tool
/// messages; function tools, <c>tool_choice</c>, <c>parallel_tool_calls</c>, <c>max_output_tokens</c>,
/// sampling, the end user and a JSON output format carry over; a stream asks for its usage. Reasoning items
/// a client sends back are dropped, as is <c>reasoning</c> (a chat deployment may not take it; a deployment with
/// <c>ResponsesApi</c> is passed the request whole instead). What has no
/// translation — hosted tools (web search, file search, code interpreter, computer use, image generation,
/// MCP), files, item references — is refused by name (<see cref="UntranslatableRequestException"/>).
/// </summary>
public static class ResponsesRequestTranslator
{
    public static JsonObject Translate(ReadOnlySpan<byte> responsesBody, string model)
    {
        if (JsonNode.Parse(responsesBody) is not JsonObject request)
        {
            throw Untranslatable("The request body must be a JSON object.", null);
        }
        var messages = new JsonArray();
        if (JsonFields.String(request["instructions"]) is { Length: > 0 } instructions)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        }
        switch (request["input"])
        {
            case JsonValue input when input.GetValueKind() == JsonValueKind.String:
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = input.GetValue<string>() });
                break;
            case JsonArray items:
                for (var i = 0; i < items.Count; i++)
                {
                    AddItem(messages, items[i] as JsonObject ?? throw Untranslatable($"input[{i}] must be an object.", $"input[{i}]"), $"input[{i}]");
                }
                break;
            default:
                throw Untranslatable("'input' must be a string or an array of items.", "input");
        }

        var chat = new JsonObject { ["model"] = model, ["messages"] = messages };
        if (request["max_output_tokens"] is JsonValue max)
        {
            chat["max_tokens"] = max.DeepClone();
        }
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p", "parallel_tool_calls"])
        {
            if (request[name] is JsonValue value && value.GetValueKind() != JsonValueKind.Null)
            {
                chat[name] = value.DeepClone();
            }
        }
        if ((JsonFields.String(request["user"]) ?? JsonFields.String(request["safety_identifier"])) is { } user)
        {
            chat["user"] = user;
        }
        if (request["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.True)
        {
            chat["stream"] = true;
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        if (request["text"]?["format"] is JsonObject format && ResponseFormat(format) is { } responseFormat)
        {
            chat["response_format"] = responseFormat;
        }
        if (request["tools"] is JsonArray { Count: > 0 } tools)
        {
            chat["tools"] = new JsonArray(tools.Select((tool, index) => (JsonNode?)Tool(tool, $"tools[{index}]")).ToArray());
        }
        if (request["tool_choice"] is { } choice && ToolChoice(choice) is { } toolChoice)
        {
            chat["tool_choice"] = toolChoice;
        }
        return chat;
    }

    private static void AddItem(JsonArray messages, JsonObject item, string path)
    {
        // A message may come without its type: {"role": "user", "content": "..."}.
        switch (JsonFields.String(item["type"]) ?? (item["role"] is not null ? "message" : null))
        {
            case "message":
                var role = JsonFields.String(item["role"]) ?? throw Untranslatable($"{path}.role is required.", $"{path}.role");
                if (role is not ("user" or "assistant" or "system" or "developer"))
                {
                    throw Untranslatable($"{path}.role must be user, assistant, system or developer.", $"{path}.role");
                }
                messages.Add(new JsonObject { ["role"] = role == "developer" ? "system" : role, ["content"] = Content(item["content"], role, $"{path}.content") });
                break;
            case "function_call":
                var call = new JsonObject
                {
                    ["id"] = JsonFields.String(item["call_id"]) ?? throw Untranslatable($"{path}.call_id is required.", $"{path}.call_id"),
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = JsonFields.String(item["name"]), ["arguments"] = JsonFields.String(item["arguments"]) ?? "{}" },
                };
                // Calls made together are one assistant turn in Chat Completions.
                if (messages.LastOrDefault() is JsonObject { } last && JsonFields.String(last["role"]) == "assistant" && last["tool_calls"] is JsonArray calls)
                {
                    calls.Add(call);
                }
                else if (messages.LastOrDefault() is JsonObject { } text && JsonFields.String(text["role"]) == "assistant" && text["tool_calls"] is null)
                {
                    text["tool_calls"] = new JsonArray(call);
                }
                else
                {
                    messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call) });
                }
                break;
            case "function_call_output":
                messages.Add(new JsonObject
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = JsonFields.String(item["call_id"]) ?? throw Untranslatable($"{path}.call_id is required.", $"{path}.call_id"),
                    ["content"] = item["output"] is JsonArray parts ? Text(parts, $"{path}.output") : JsonFields.String(item["output"]) ?? "",
                });
                break;
            case "reasoning":
                break;
            case var type:
                throw Untranslatable($"An input item of type '{type}' has no equivalent in Chat Completions.", path);
        }
    }

    /// <summary>A message's content: a string, or parts — text (input or output) and images; an assistant's as text.</summary>
    private static JsonNode Content(JsonNode? content, string role, string path)
    {
        if (content is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }
        if (content is not JsonArray parts)
        {
            throw Untranslatable($"{path} must be a string or an array of content parts.", path);
        }
        if (role != "user" || parts.All(p => JsonFields.String(p?["type"]) is "input_text" or "output_text"))
        {
            return Text(parts, path);
        }
        var chatParts = new JsonArray();
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            chatParts.Add(JsonFields.String(part?["type"]) switch
            {
                "input_text" or "output_text" => new JsonObject { ["type"] = "text", ["text"] = JsonFields.String(part!["text"]) ?? "" },
                "input_image" when JsonFields.String(part!["image_url"]) is { } url => new JsonObject
                {
                    ["type"] = "image_url",
                    ["image_url"] = new JsonObject { ["url"] = url, ["detail"] = JsonFields.String(part["detail"]) ?? "auto" },
                },
                var type => throw Untranslatable($"A content part of type '{type}' (or an image by file id) has no equivalent in Chat Completions.", $"{path}[{i}]"),
            });
        }
        return chatParts;
    }

    private static string Text(JsonArray parts, string path)
    {
        var text = new List<string>();
        for (var i = 0; i < parts.Count; i++)
        {
            if (JsonFields.String(parts[i]?["type"]) is not ("input_text" or "output_text" or "text"))
            {
                throw Untranslatable($"A '{JsonFields.String(parts[i]?["type"])}' part cannot go where Chat Completions takes only text.", $"{path}[{i}]");
            }
            text.Add(JsonFields.String(parts[i]!["text"]) ?? "");
        }
        return string.Join("", text);
    }

    private static JsonObject Tool(JsonNode? tool, string path)
    {
        if (tool is not JsonObject definition)
        {
            throw Untranslatable($"{path} must be an object.", path);
        }
        if (JsonFields.String(definition["type"]) != "function")
        {
            throw Untranslatable($"The hosted tool '{JsonFields.String(definition["type"])}' runs only at OpenAI; Chat Completions deployments take function tools only.", path);
        }
        var function = new JsonObject
        {
            ["name"] = JsonFields.String(definition["name"]) ?? throw Untranslatable($"{path}.name is required.", $"{path}.name"),
            ["parameters"] = definition["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object" },
        };
        if (JsonFields.String(definition["description"]) is { } description)
        {
            function["description"] = description;
        }
        if (definition["strict"] is JsonValue strict && strict.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            function["strict"] = strict.DeepClone();
        }
        return new JsonObject { ["type"] = "function", ["function"] = function };
    }

    private static JsonNode? ToolChoice(JsonNode choice) => choice switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>() switch
        {
            "auto" or "none" or "required" => value.DeepClone(),
            var other => throw Untranslatable($"tool_choice '{other}' has no equivalent in Chat Completions.", "tool_choice"),
        },
        JsonObject { } tool when JsonFields.String(tool["type"]) == "function" =>
            new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = JsonFields.String(tool["name"]) } },
        JsonObject { } tool => throw Untranslatable($"tool_choice of type '{JsonFields.String(tool["type"])}' has no equivalent in Chat Completions.", "tool_choice"),
        _ => null,
    };

    private static JsonObject? ResponseFormat(JsonObject format) => JsonFields.String(format["type"]) switch
    {
        "json_schema" => new JsonObject
        {
            ["type"] = "json_schema",
            ["json_schema"] = new JsonObject
            {
                ["name"] = JsonFields.String(format["name"]) ?? "response",
                ["schema"] = format["schema"]?.DeepClone(),
                ["strict"] = format["strict"]?.DeepClone(),
            },
        },
        "json_object" => new JsonObject { ["type"] = "json_object" },
        _ => null,
    };

    private static UntranslatableRequestException Untranslatable(string message, string? param) => new(message, param);
}
