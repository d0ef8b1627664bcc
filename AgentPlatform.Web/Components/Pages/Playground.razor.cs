using System.Text;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// A conversation with a model group through the Api, streamed, with what each reply used: the
/// headers' deployment, cache outcome and overhead, the stream's token usage, and — from the usage
/// ledger, once the record is written — its cost and latency.
/// </summary>
public sealed partial class Playground : IDisposable
{
    /// <summary>A record follows its answer within ~50 ms; it is looked for this many times, 250 ms apart.</summary>
    private const int RecordLookups = 12;

    private readonly CancellationTokenSource _closed = new();

    [Inject]
    public required PlatformApiClient Api { get; init; }

    [Inject]
    public required AdminApiClient Admin { get; init; }

    [Inject]
    public required TimeProvider TimeProvider { get; init; }

    private IReadOnlyList<string> Models { get; set; } = [];

    /// <summary>The agents the console may run, as their models (<c>agent:{name}</c>): chatting with one runs it.</summary>
    private IReadOnlyList<string> Agents { get; set; } = [];

    private string? Model { get; set; }

    /// <summary>The door the conversation goes through (an agent's always through chat completions).</summary>
    private string Door { get; set; } = Doors.ChatCompletions;

    private bool IsAgent => Model?.StartsWith("agent:", StringComparison.Ordinal) == true;

    private string Message { get; set; } = "";

    /// <summary>A virtual key to call as (say, one just created); empty: the console's own key.</summary>
    private string VirtualKey { get; set; } = "";

    private bool Sending { get; set; }

    private List<Turn> Turns { get; } = [];

    private string? LoadError { get; set; }

    protected override async Task OnInitializedAsync()
    {
        try
        {
            Models = await Api.ListModelsAsync(_closed.Token);
            Agents = await Api.ListAgentModelsAsync(_closed.Token);
            // "default" is the group the platform starts with (the simulators, or what an operator named so).
            Model = Models.Contains("default") ? "default" : Models.FirstOrDefault();
            if (Model is null)
            {
                LoadError = "No model group is configured: the Router's Router:ModelGroups is empty.";
            }
        }
        catch (HttpRequestException exception)
        {
            LoadError = $"The models could not be loaded: {exception.Message}";
        }
    }

    private void NewConversation() => Turns.Clear();

    // Send stays enabled while the message is empty: typing reaches the server as events, and a button
    // enabled by the re-render after them could be clicked (and ignored) before that re-render arrives.
    private async Task SendAsync()
    {
        if (string.IsNullOrWhiteSpace(Message))
        {
            return;
        }
        Sending = true;
        Turns.Add(new Turn("user", Model!) { Text = Message.Trim() });
        Message = "";
        // The conversation so far, without replies that failed.
        var messages = Turns.Where(t => t.Error is null && t.Text.Length > 0).Select(t => new ChatMessage(t.Role, t.Text)).ToList();
        var reply = new Turn("assistant", Model!);
        Turns.Add(reply);
        try
        {
            await foreach (var update in Api.StreamChatAsync(Model!, messages, VirtualKey, _closed.Token, IsAgent ? Doors.ChatCompletions : Door))
            {
                if (update.Error is not null)
                {
                    reply.Error = update.Error;
                }
                else if (update.Text is not null)
                {
                    reply.Append(update.Text);
                }
                else if (update.Usage is not null)
                {
                    reply.Usage = update.Usage;
                }
                else
                {
                    (reply.Deployment, reply.RequestId, reply.OverheadMs, reply.Cache, reply.AgentRun) = (update.Deployment, update.RequestId, update.OverheadMs, update.Cache, update.AgentRun);
                }
                StateHasChanged();
            }
        }
        catch (HttpRequestException exception)
        {
            reply.Error = $"The Api could not be reached: {exception.Message}";
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested)
        {
            return;
        }
        finally
        {
            Sending = false;
        }
        if (reply.RequestId is not null)
        {
            StateHasChanged();
            await FindRecordAsync(reply);
        }
    }

    /// <summary>The reply's cost and latency as the ledger recorded them: what billing will see.</summary>
    private async Task FindRecordAsync(Turn reply)
    {
        reply.RecordPending = true;
        try
        {
            for (var i = 0; i < RecordLookups && reply.Record is null; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider, _closed.Token);
                reply.Record = Combined(await Admin.FindRequestAsync(reply.RequestId!, _closed.Token), expected: reply.AgentRun is null ? 1 : 2);
            }
        }
        catch (AdminApiException)
        {
            // The reply stands without its cost; the request lookup page can find it later.
        }
        catch (OperationCanceledException)
        {
            return;
        }
        reply.RecordPending = false;
        StateHasChanged();
    }

    /// <summary>
    /// The reply's cost and latency from its records: one for a plain call; for an agent run, one per model
    /// step and the run's summary (with the run's latency and no cost of its own), whose costs add up.
    /// Null until at least <paramref name="expected"/> have been written.
    /// </summary>
    private static UsageRecordView? Combined(IReadOnlyList<UsageRecordView> records, int expected) =>
        records.Count < expected ? null
        : records.Count == 1 ? records[0]
        : records[0] with { CostUsd = records.Sum(r => r.CostUsd), LatencyMs = records.Max(r => r.LatencyMs) };

    public void Dispose() => _closed.Cancel();

    private sealed class Turn(string role, string model)
    {
        private readonly StringBuilder _text = new();

        public string Role { get; } = role;

        public string Model { get; } = model;

        public string Text
        {
            get => _text.ToString();
            init => _text.Append(value);
        }

        public void Append(string text) => _text.Append(text);

        public string? Error { get; set; }

        public string? Deployment { get; set; }

        /// <summary>For a reply of an agent: the run that gave it.</summary>
        public string? AgentRun { get; set; }

        public string? RequestId { get; set; }

        public string? OverheadMs { get; set; }

        public string? Cache { get; set; }

        public ChatUsage? Usage { get; set; }

        public UsageRecordView? Record { get; set; }

        public bool RecordPending { get; set; }
    }
}
