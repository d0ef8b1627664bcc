using System.Text.Json;
using AgentPlatform.Contracts.Admin;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgentPlatform.Api.Agents;

/// <summary>What a tool call gave back: its text, and whether it is an error the model should see as such.</summary>
public sealed record ToolResult(string Text, bool IsError);

/// <summary>An agent's MCP tools could not be made ready; the message says which server or tool, for the run's status.</summary>
public sealed class McpToolboxException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The tools an agent may call, from its MCP servers (the official <c>ModelContextProtocol</c> client,
/// streamable HTTP or SSE, whichever the server speaks): only the names its definition allows, each
/// call bounded by its timeout. A tool that fails, or runs out of time, gives an error result for the
/// model to read — a run does not crash on a tool.
/// </summary>
public sealed class McpToolbox : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly List<McpClient> _clients;

    private McpToolbox(List<McpClient> clients, IReadOnlyDictionary<string, AgentToolFunction> tools)
    {
        _clients = clients;
        Tools = tools;
    }

    /// <summary>The allowed tools by name.</summary>
    public IReadOnlyDictionary<string, AgentToolFunction> Tools { get; }

    /// <summary>Connects to each of the agent's MCP servers and takes the tools it allows.</summary>
    /// <exception cref="McpToolboxException">A server cannot be reached, or lacks a tool the definition allows.</exception>
    public static async Task<McpToolbox> ConnectAsync(AgentDefinition agent, HttpClient httpClient, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var clients = new List<McpClient>();
        var tools = new Dictionary<string, AgentToolFunction>(StringComparer.Ordinal);
        try
        {
            foreach (var (server, index) in agent.Tools.Select((t, i) => (t, i)))
            {
                var url = new Uri(server.McpServerUrl);
                // Named by its place in the definition and its host: the URL may hold a credential, and
                // this message reaches the run's client, its stored record and the log.
                var name = $"tools[{index}] on {url.IdnHost}";
                McpClient client;
                IList<McpClientTool> listed;
                try
                {
                    var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = url, TransportMode = HttpTransportMode.AutoDetect },
                        httpClient, loggerFactory, ownsHttpClient: false);
                    client = await McpClient.CreateAsync(transport, loggerFactory: loggerFactory, cancellationToken: cancellationToken);
                    clients.Add(client);
                    listed = await client.ListToolsAsync(cancellationToken: cancellationToken);
                }
                catch (Exception exception) when (exception is HttpRequestException or McpException or TimeoutException or IOException
                    || exception is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    throw new McpToolboxException($"The MCP server {name} could not be reached: {Reason(exception)}.", exception);
                }
                var timeout = server.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultTimeout;
                foreach (var toolName in server.AllowedTools)
                {
                    var tool = listed.FirstOrDefault(t => t.Name == toolName)
                        ?? throw new McpToolboxException($"The MCP server {name} has no tool '{toolName}' (it has: {string.Join(", ", listed.Select(t => t.Name))}).");
                    if (!tools.TryAdd(toolName, new AgentToolFunction(tool, timeout)))
                    {
                        throw new McpToolboxException($"Two of the agent's MCP servers offer a tool named '{toolName}'; allow it on one only.");
                    }
                }
            }
            return new McpToolbox(clients, tools);
        }
        catch
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>Why a connection failed, in words that hold no URL.</summary>
    private static string Reason(Exception exception) => exception switch
    {
        HttpRequestException { InnerException: McpHostRefusedException refused } => $"it may not be reached: {refused.Message}",
        HttpRequestException { StatusCode: { } status } => $"it answered {(int)status}",
        HttpRequestException http => $"the connection failed ({http.HttpRequestError})",
        McpException => "it did not speak MCP as expected",
        IOException => "the connection broke",
        _ => "it did not answer in time",
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
    }
}

/// <summary>One allowed MCP tool: its name, description and argument schema for the model, and a call that never throws for the tool's sake.</summary>
public sealed class AgentToolFunction(McpClientTool tool, TimeSpan timeout)
{
    public string Name => tool.Name;

    public string Description => tool.Description;

    public JsonElement JsonSchema => tool.JsonSchema;

    public TimeSpan Timeout => timeout;

    /// <summary>Calls the tool; its failure or timeout comes back as an error result. Only <paramref name="cancellationToken"/> (the run's end) throws.</summary>
    public async Task<ToolResult> CallAsync(IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            var result = await tool.CallAsync(arguments, cancellationToken: limit.Token);
            var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(b => b.Text));
            return new ToolResult(text, result.IsError == true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ToolResult($"The tool '{Name}' did not answer within {timeout.TotalSeconds:0.#} s.", IsError: true);
        }
        catch (Exception exception) when (exception is McpException or HttpRequestException or IOException or JsonException)
        {
            return new ToolResult($"The tool '{Name}' failed: {exception.Message}", IsError: true);
        }
    }
}
