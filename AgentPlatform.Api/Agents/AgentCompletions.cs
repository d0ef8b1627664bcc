using System.Buffers;
using System.Text.Json;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// An agent as a model: <c>"model": "agent:{name}"</c> in <c>/v1/chat/completions</c> runs the agent on the
/// request's messages and answers in the chat completion format, streamed or not — so an OpenAI SDK calls
/// an agent unchanged. The conversation is the messages the client sends, as with any model; the run's id
/// is in the <c>x-agentplatform-agent-run</c> header for <c>GET /v1/agents/runs/{id}</c>.
/// </summary>
public static class AgentCompletions
{
    public const string ModelPrefix = "agent:";
    public const string RunHeader = "x-agentplatform-agent-run";

    public static bool IsAgentModel(string model) => model.StartsWith(ModelPrefix, StringComparison.Ordinal);

    public static async Task CreateAsync(
        HttpContext context, ClientIdentity client, ReadOnlyMemory<byte> body, ChatRequestScan scan, AgentStore agents, AgentRunner runner, RequestLimiter limiter, TimeProvider timeProvider)
    {
        var name = scan.Model![ModelPrefix.Length..];
        if (await agents.GetAsync(name) is not { } agent || !client.MayRun(agent))
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
                $"The model '{scan.Model}' does not exist or you do not have access to it.", OpenAIError.InvalidRequest, "model_not_found", "model");
            return;
        }
        if (Messages(body) is not { } messages)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                "An agent takes 'messages' of roles system, user and assistant with text content, ending with a user message.", OpenAIError.InvalidRequest, "invalid_messages", "messages");
            return;
        }
        if (agent.RefusesInstructionsIn(messages) is { } refusal)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, refusal, OpenAIError.InvalidRequest, "client_instructions_not_allowed", "messages");
            return;
        }
        await using var lease = await limiter.AcquireAsync(context, client, default);
        if (lease is null)
        {
            return;
        }

        var response = context.Response;
        var id = "chatcmpl-" + context.TraceIdentifier;
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        if (scan.Stream)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
        }
        var first = true;
        async ValueTask EmitAsync(AgentRunEvent runEvent)
        {
            if (runEvent is { Type: AgentRunEvent.RunStarted, Data: AgentRun started })
            {
                response.Headers[RunHeader] = started.Id;
            }
            else if (scan.Stream && runEvent.Data is TextDelta delta && !context.RequestAborted.IsCancellationRequested)
            {
                WriteChunk(response.BodyWriter, id, created, scan.Model!, first ? "assistant" : null, delta.Text, finishReason: null, usage: null);
                first = false;
                await response.BodyWriter.FlushAsync(context.RequestAborted);
            }
        }

        var run = await runner.RunAsync(agent, messages, threadId: null, thread: null, client, lease,
            context.TraceIdentifier, EmitAsync, context.RequestAborted);
        await lease.SettleAsync(0, 0);
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        // A stopped run answered what it could, cut short: as a model that hit its length.
        var finishReason = run.Status == AgentRunStatuses.Completed ? "stop" : "length";
        if (scan.Stream)
        {
            if (run.Status == AgentRunStatuses.Failed)
            {
                OpenAIError.WriteEvent(response.BodyWriter, run.Error ?? "The agent run failed.", OpenAIError.Upstream, "agent_run_failed");
            }
            else
            {
                WriteChunk(response.BodyWriter, id, created, scan.Model!, role: null, content: null, finishReason, usage: null);
                if (scan.StreamOptions == StreamOptionsKind.IncludeUsage)
                {
                    WriteChunk(response.BodyWriter, id, created, scan.Model!, role: null, content: null, finishReason: null, run.Usage);
                }
            }
            response.BodyWriter.Write("data: [DONE]\n\n"u8);
            await response.BodyWriter.FlushAsync(context.RequestAborted);
            return;
        }
        if (run.Status == AgentRunStatuses.Failed)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status502BadGateway, run.Error ?? "The agent run failed.", OpenAIError.Upstream, "agent_run_failed");
            return;
        }
        response.ContentType = "application/json";
        using var json = new Utf8JsonWriter(response.BodyWriter);
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", "chat.completion");
        json.WriteNumber("created", created);
        json.WriteString("model", scan.Model);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", run.Output);
        json.WriteEndObject();
        json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, run.Usage);
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    private static void WriteChunk(IBufferWriter<byte> output, string id, long created, string model, string? role, string? content, string? finishReason, AgentRunUsage? usage)
    {
        output.Write("data: "u8);
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("object", "chat.completion.chunk");
            json.WriteNumber("created", created);
            json.WriteString("model", model);
            json.WriteStartArray("choices");
            if (usage is null)
            {
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                json.WriteStartObject("delta");
                if (role is not null)
                {
                    json.WriteString("role", role);
                }
                if (content is not null)
                {
                    json.WriteString("content", content);
                }
                json.WriteEndObject();
                json.WriteString("finish_reason", finishReason);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (usage is not null)
            {
                WriteUsage(json, usage);
            }
            json.WriteEndObject();
        }
        output.Write("\n\n"u8);
    }

    private static void WriteUsage(Utf8JsonWriter json, AgentRunUsage usage)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", usage.PromptTokens);
        json.WriteNumber("completion_tokens", usage.CompletionTokens);
        json.WriteNumber("total_tokens", usage.TotalTokens);
        json.WriteEndObject();
    }

    /// <summary>The request's messages as the agent takes them, or null when one is not plain text of a known role or the last is not the user's.</summary>
    private static List<ChatMessage>? Messages(ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("messages", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        var messages = new List<ChatMessage>();
        foreach (var item in items.EnumerateArray())
        {
            var role = item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            var text = item.TryGetProperty("content", out var content) ? Text(content) : null;
            if (text is null)
            {
                return null;
            }
            messages.Add(role switch
            {
                "user" => new ChatMessage(ChatRole.User, text),
                "assistant" => new ChatMessage(ChatRole.Assistant, text),
                "system" or "developer" => new ChatMessage(ChatRole.System, text),
                _ => null!,
            });
            if (messages[^1] is null)
            {
                return null;
            }
        }
        return messages.Count > 0 && messages[^1].Role == ChatRole.User ? messages : null;
    }

    /// <summary>A message's content as text: a string, or the text parts of an array.</summary>
    private static string? Text(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Array => string.Join("\n", content.EnumerateArray()
            .Where(part => part.TryGetProperty("type", out var type) && type.GetString() == "text" && part.TryGetProperty("text", out _))
            .Select(part => part.GetProperty("text").GetString())),
        _ => null,
    };
}
