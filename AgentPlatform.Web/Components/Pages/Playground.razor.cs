using System.Text;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

public sealed partial class Playground
{
    private readonly StringBuilder _answer = new();

    [Inject]
    public required PlatformApiClient Api { get; init; }

    private IReadOnlyList<string> Models { get; set; } = [];

    private string? Model { get; set; }

    private string Message { get; set; } = "";

    private bool Sending { get; set; }

    private string Answer => _answer.ToString();

    private string? LoadError { get; set; }

    private string? ReplyError { get; set; }

    private string? Deployment { get; set; }

    private string? RequestId { get; set; }

    private string? OverheadMs { get; set; }

    protected override async Task OnInitializedAsync()
    {
        try
        {
            Models = await Api.ListModelsAsync(CancellationToken.None);
            // "default" is the group the platform starts with (the simulators, or what an operator named so).
            Model = Models.Contains("default") ? "default" : Models.FirstOrDefault();
        }
        catch (HttpRequestException exception)
        {
            LoadError = $"The models could not be loaded: {exception.Message}";
        }
    }

    private async Task SendAsync()
    {
        Sending = true;
        _answer.Clear();
        ReplyError = Deployment = RequestId = OverheadMs = null;
        try
        {
            await foreach (var update in Api.StreamChatAsync(Model!, Message, CancellationToken.None))
            {
                if (update.Error is not null)
                {
                    ReplyError = update.Error;
                }
                else if (update.Text is not null)
                {
                    _answer.Append(update.Text);
                }
                else
                {
                    (Deployment, RequestId, OverheadMs) = (update.Deployment, update.RequestId, update.OverheadMs);
                }
                StateHasChanged();
            }
        }
        catch (HttpRequestException exception)
        {
            ReplyError = $"The Api could not be reached: {exception.Message}";
        }
        finally
        {
            Sending = false;
        }
    }
}
